"""Offset-tagged KPI corrections: what the folds send on the kpi-deltas topic.

A correction says by how much one input changes one quarter-hour of one scope key, tagged with
its origin: the input's ``Source`` (kind and partition) and its offset there (for customer-wins,
its position: ``streams.customer_wins.position``). The tag is what makes a replay harmless: a
KPI bucket keeps, per source, the highest offset it applied and skips corrections at or below it
(``streams.folds`` explains why a replay emits the same corrections).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from projections.effects import Spread
from projections.state_types import Source
from projections.tally import Tally


class Correction(NamedTuple):
    """What the input at ``offset`` of ``source`` changes in quarter-hour ``quarter`` of one
    scope key. A tuple, so the tests' helpers that unpack corrections keep working; kpi-deltas
    carries it as the array ``[source, offset, quarter, counts, reps, customers]``."""

    source: Source
    offset: int
    quarter: int
    tally: Tally


class Corrections:
    """Corrections per scope key, in the order they were caused."""

    __slots__ = ("by_key",)

    def __init__(self) -> None:
        self.by_key: dict[str, list[Correction]] = {}

    def add(self, source: Source, offset: int, caused: Iterable[Spread]) -> None:
        """Tag what the input at ``offset`` of ``source`` caused with that origin. The keys of a
        spread share its ``Correction`` objects, which ``encode_kpi_deltas`` encodes once."""
        by_key = self.by_key
        for keys, quarters in caused:
            tagged = [Correction(source, offset, quarter, tally) for quarter, tally in quarters]
            if not tagged:
                continue
            for key in keys:
                entries = by_key.get(key)
                if entries is None:
                    by_key[key] = tagged.copy()
                else:
                    entries.extend(tagged)

    def absorb(self, other: Corrections) -> None:
        """Take in another fold's corrections (of other partitions: its sources are its own)."""
        for key, entries in other.by_key.items():
            self.by_key.setdefault(key, []).extend(entries)

    def items(self) -> Iterator[tuple[str, list[Correction]]]:
        """Corrections per key in (source, offset) order: a bucket's applied marks need each
        source's in offset order; sources sort as their labels, so messages keep their bytes."""
        for key, entries in self.by_key.items():
            yield key, sorted(entries, key=_origin)

    def is_empty(self) -> bool:
        return not self.by_key


def _origin(correction: Correction) -> tuple[str, int]:
    return correction.source, correction.offset
