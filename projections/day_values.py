"""Applying offset-tagged KPI corrections to day values (``projections.day_readout`` reads them).

Engine v2 keeps one ``DayValue`` per (scope key, UTC day) instead of v1's three bucket grids
(``projections.timebase.Grid``): its hours are the hourly grid, their sum the daily one, and its
``local`` parts, summed over the UTC days a local day overlaps, the local-daily one.

Exactly-once apply (docs/GUARANTEES.md, design section 7 I4): a correction is a ``DayCorrection``
(src id, position, quarter-hour, tally). All quarters of one (src, position) are caused by one
input and arrive together, in order per src; a day value applies them if the position is above
its mark for that src and then raises the mark, so a replay or a duplicate changes nothing. The
mark is checked once per (src, position) and day, not per quarter: two quarters of one input in
the same day both count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from typing import NamedTuple

from projections.state_types import (
    Carry,
    DayValue,
    HourTally,
    Source,
    add_tally,
    hour_tally_of,
    src_id_of_label,
    tally_is_empty,
)
from projections.tally import Tally
from projections.timebase import (
    QUARTERS_PER_DAY,
    QUARTERS_PER_HOUR,
    BucketGrid,
)


class DayCorrection(NamedTuple):
    """One correction as day values apply it: the quarter-hour ``quarter`` of the input at
    ``position`` of source ``src_id`` (``projections.state_types.src_id``) changes by ``tally``.

    A tuple, so callers may still hand in plain ``(src id, position, quarter, tally)`` tuples
    (the state engine's tests do); the functions here unpack them into these names."""

    src_id: int
    position: int
    quarter: int
    tally: HourTally


DayKey = tuple[str, int]
"""(scope key, UTC day number)."""

HOURS_PER_DAY = 24


def day_entries_of(
    entries: Iterable[tuple[Source | str, int, int, Tally]],
) -> list[DayCorrection]:
    """Corrections as the folds tag them (``streams.folds.Correction``: source, offset,
    quarter-hour, ``Tally``) in the form day values apply; order kept. Plain tuples with a
    source label are taken too (the replay audit builds them)."""
    ids: dict[str, int] = {}
    out = []
    for source, offset, quarter, tally in entries:
        src_id = ids.get(source)
        if src_id is None:
            src_id = ids[source] = src_id_of_label(source)
        out.append(DayCorrection(src_id, offset, quarter, hour_tally_of(tally)))
    return out


def apply_day_batch(
    days: MutableMapping[DayKey, DayValue],
    corrections: Iterable[tuple[str, list[DayCorrection]]],
    grid: BucketGrid,
    stocks: MutableMapping[str, Carry] | None = None,
    horizon_day: int | None = None,
) -> list[DayKey]:
    """Apply (scope key, entries) pairs, each (src, position) at most once per day value, and
    the open-stock changes among them once to the key's ``stocks`` total.

    ``horizon_day`` (retention, design §8): the parts of a correction for a UTC day below it
    are dropped and no day value is created there (its flows are beyond retention); its stock
    changes still reach the total, which is what keeps stocks exact after old days are pruned.

    A mini-batch: every touched (key, day) is read once and written once, whatever the number of
    corrections it gets. Entries of one (src, position) must be consecutive (kpi-deltas keeps
    them so). Returns the touched day keys, in first-touch order: the dirty set of a checkpoint.
    """
    touched: dict[DayKey, DayValue] = {}
    totals: dict[str, Carry] = {}
    for scope_key, entries in corrections:
        for (src, position), quarters in _by_origin(entries):
            if stocks is not None:
                _add_stock(totals, stocks, scope_key, src, position, quarters)
            for day, day_quarters in _by_day(quarters).items():
                if horizon_day is not None and day < horizon_day:
                    continue
                key = (scope_key, day)
                value = touched.get(key)
                if value is None:
                    stored = days.get(key)
                    value = touched[key] = DayValue() if stored is None else stored
                apply_origin(value, src, position, day_quarters, grid)
    for key, value in touched.items():
        days[key] = value
    if stocks is not None:
        for scope_key, total in totals.items():
            stocks[scope_key] = total
    return list(touched)


def _add_stock(
    totals: dict[str, Carry],
    stocks: MutableMapping[str, Carry],
    scope_key: str,
    src: int,
    position: int,
    quarters: list[tuple[int, HourTally]],
) -> None:
    """Add one (src, position)'s open-stock changes to the key's total, unless already there."""
    deals = sum(t.open_delta for _, t in quarters)
    amount = sum(t.open_amount_delta for _, t in quarters)
    weighted = sum(t.open_weighted_delta for _, t in quarters)
    if not (deals or amount or weighted):
        return
    total = totals.get(scope_key)
    if total is None:
        total = totals[scope_key] = stocks.get(scope_key) or Carry()
    if position <= total.marks.get(src, -1):
        return
    total.open_deals += deals
    total.open_amount += amount
    total.open_weighted += weighted
    total.marks[src] = position


def apply_origin(
    value: DayValue,
    src: int,
    position: int,
    quarters: Iterable[tuple[int, HourTally]],
    grid: BucketGrid,
) -> bool:
    """Add the quarters of one (src, position) inside this value's UTC day, unless already
    applied (position at or below the src's mark). True when they were applied."""
    if position <= value.marks.get(src, -1):
        return False
    for quarter, tally in quarters:
        hour = quarter // QUARTERS_PER_HOUR % HOURS_PER_DAY
        _add_part(value.hours, hour, tally)
        if not grid.local_is_utc:
            _add_part(value.local, grid.local_day_of_quarter(quarter), tally)
    value.marks[src] = position
    return True


def _add_part(parts: dict[int, HourTally], index: int, tally: HourTally) -> None:
    part = parts.get(index)
    if part is None:
        part = parts[index] = HourTally()
    add_tally(part, tally)
    if tally_is_empty(part):
        del parts[index]


def _by_origin(
    entries: Iterable[DayCorrection],
) -> Iterator[tuple[tuple[int, int], list[tuple[int, HourTally]]]]:
    """Consecutive entries of one (src, position), as the quarter-hour corrections they carry."""
    group: list[tuple[int, HourTally]] = []
    origin: tuple[int, int] | None = None
    for src, position, quarter, tally in entries:
        if (src, position) != origin:
            if group:
                yield origin, group
            origin, group = (src, position), []
        group.append((quarter, tally))
    if group:
        yield origin, group


def _by_day(quarters: list[tuple[int, HourTally]]) -> dict[int, list[tuple[int, HourTally]]]:
    by_day: dict[int, list[tuple[int, HourTally]]] = {}
    for quarter, tally in quarters:
        by_day.setdefault(quarter // QUARTERS_PER_DAY, []).append((quarter, tally))
    return by_day
