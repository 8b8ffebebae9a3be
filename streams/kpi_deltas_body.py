"""The msgpack shapes of a kpi-deltas message (``streams.kpi_deltas``), as msgspec Structs.

``array_like`` Structs encode as the very arrays the tuples they replaced did, so the bytes on
the topic are unchanged (``tests/unit/streams/test_kpi_deltas_wire.py`` pins them)::

    [[[scope_key, [[source, offset, quarter, counts, reps, customers], ...]], ...], st_us]

A scope (``WireScope``) and a correction (``WireCorrection``) have exactly their elements: one
more or one less is refused, as it was. The body (``KpiDeltasBody``) only grows, with defaults:
a reader ignores trailing fields it does not know. Its second field, ``st_us``, is the sender's
stream time: the latest ``occurred_at`` (epoch microseconds) its input partition has folded; the
apply agent keeps the max of what arrives as its partition's stream time. A message without it
(older writers, customer-wins' fold, which reads no event time) decodes with ``None`` and moves
nothing; a reader older than the field skips it.

Counts are ``Count``: ints, which nearly every message holds and the fast decoder takes
(``KpiDeltasBody[int]``), or also the decimal strings of sums beyond 64 bits
(``KpiDeltasBody[int | str]``, ``projections.tally.wire_int``).

``gc=False``: these live only while a message is encoded or decoded and never hold a cycle, so
the garbage collector need not track the many thousands a batch creates (it did track the tuples
they replaced, and its collections were a large share of the codec's time).
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

Count = TypeVar("Count", int, int | str)


class WireCorrection(
    msgspec.Struct, Generic[Count], array_like=True, forbid_unknown_fields=True, gc=False
):
    """A ``streams.corrections.Correction``: its source's label, offset, quarter-hour, and its
    tally's three count maps."""

    source: str
    offset: int
    quarter: int
    counts: dict[str, Count]
    reps: dict[str, Count]
    customers: dict[str, Count]


class WireScope(
    msgspec.Struct, Generic[Count], array_like=True, forbid_unknown_fields=True, gc=False
):
    """A scope key and its corrections, in their (source, offset) order."""

    scope_key: str
    corrections: list[WireCorrection[Count]]


class KpiDeltasBody(msgspec.Struct, Generic[Count], array_like=True, gc=False):
    """A message: its scope keys in batch order, then the sender's stream time (``None``: not
    carried)."""

    scopes: list[WireScope[Count]]
    st_us: int | None = None
