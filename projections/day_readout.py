"""Reading KPI windows back from day values: the same ``WindowTotals`` as ``projections.readout``
gives over the bucket grids, in the shape ``projections.kpis.derive_kpis`` takes.

A window sums whole grid buckets: ``1h``/``24h`` hour tallies, ``7d``/``30d`` each UTC day's
hours, and ``mtd``/``qtd`` in a non-UTC zone each local day's parts gathered from the UTC days
around it. A report reads each day value of its key at most once and sums each day's hours at
most once (``KeyDays``); a reader that fetched the key's days with one range scan also says
which days exist, so the windows skip the absent ones instead of looking each day up.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime

from projections.day_values import HOURS_PER_DAY
from projections.effects import split_scope_key
from projections.kpis import OpenStock, derive_kpis
from projections.readout import StockReader, reported, stock_at
from projections.state_types import (
    Carry,
    DayValue,
    HourTally,
    add_tally,
    int_values,
    tally_is_empty,
)
from projections.tally import WindowTotals
from projections.timebase import DAILY, HOURLY, BucketGrid
from projections.windows import WINDOWS, window_span

DayReader = Callable[[str, int], DayValue | None]
"""A key's day value on a UTC day, or None."""


class KeyDays:
    """What the windows of one report read of one key: each day value once, each day's hours
    summed once (``7d``, ``30d``, ``mtd`` and ``qtd`` include the same recent days whole), and,
    when the caller knows them (``present``), only the days that exist."""

    __slots__ = ("_read_day", "_key", "_present", "_values", "_totals", "_daily")

    def __init__(
        self, read_day: DayReader, key: str, present: Collection[int] | None = None
    ) -> None:
        self._read_day, self._key = read_day, key
        self._present = None if present is None else sorted(present)
        self._values: dict[int, DayValue | None] = {}
        self._totals: dict[int, HourTally | None] = {}
        self._daily: dict[tuple[int, ...], WindowTotals] = {}

    def value(self, day: int) -> DayValue | None:
        if day not in self._values:
            self._values[day] = self._read_day(self._key, day)
        return self._values[day]

    def total(self, day: int) -> HourTally | None:
        if day not in self._totals:
            value = self.value(day)
            self._totals[day] = None if value is None else _sum_parts(value.hours.values())
        return self._totals[day]

    def daily(self, first: int, last: int) -> WindowTotals:
        """UTC days ``first..last`` summed whole; windows that span the same days with a value
        share one result (a key active only lately has the same ``7d``, ``30d``, ``mtd`` and
        ``qtd``), so callers must not change it."""
        days = tuple(self.days(first, last))
        found = self._daily.get(days)
        if found is None:
            found = self._daily[days] = WindowTotals()
            for day in days:
                _include(found, self.total(day))
        return found

    def days(self, first: int, last: int) -> Iterable[int]:
        """Days ``first..last`` that may hold a value, in order."""
        if self._present is None:
            return range(first, last + 1)
        return (day for day in self._present if first <= day <= last)


def first_day_read(now: datetime, grid: BucketGrid) -> int:
    """The earliest UTC day ``report`` at ``now`` reads: a reader may fetch a key's days from
    there on in one range scan instead of one read per day."""
    firsts = []
    for window in WINDOWS:
        span = window_span(window, now, grid)
        if span.grid == HOURLY:
            firsts.append(span.first // HOURS_PER_DAY)
        elif span.grid == DAILY:
            firsts.append(span.first)
        else:
            firsts.append(span.first - 1)  # a local day's parts start on the UTC day before
    return min(firsts)


def window_totals(
    read_day: DayReader | KeyDays, key: str, window: str, now: datetime, grid: BucketGrid
) -> WindowTotals:
    """What ``projections.readout.window_totals`` sums from the grids, from day values. Each
    grid bucket is included whole, so ``touched`` and the distinct sets agree with the grids
    even when a day's hours cancel out."""
    reads = read_day if isinstance(read_day, KeyDays) else KeyDays(read_day, key)
    span = window_span(window, now, grid)
    totals = WindowTotals()
    if span.grid == HOURLY:
        for day in reads.days(span.first // HOURS_PER_DAY, span.last // HOURS_PER_DAY):
            value = reads.value(day)
            if value is None:
                continue
            for hour, tally in value.hours.items():
                if span.first <= day * HOURS_PER_DAY + hour <= span.last:
                    _include(totals, tally)
    elif span.grid == DAILY:
        return reads.daily(span.first, span.last)
    else:
        for part in _local_days(reads, span.first, span.last).values():
            _include(totals, part)
    return totals


def _local_days(reads: KeyDays, first: int, last: int) -> dict[int, HourTally]:
    """Local days ``first..last`` as the sum of their parts; a local day overlaps the UTC day of
    the same number and its neighbours only (offsets stay within a day)."""
    sums: dict[int, HourTally] = {}
    for day in reads.days(first - 1, last + 1):
        value = reads.value(day)
        if value is None:
            continue
        for local_day, part in value.local.items():
            if first <= local_day <= last:
                add_tally(sums.setdefault(local_day, HourTally()), part)
    return sums


def _sum_parts(parts: Iterable[HourTally]) -> HourTally:
    total = HourTally()
    for part in parts:
        add_tally(total, part)
    return total


def _include(totals: WindowTotals, tally: HourTally | None) -> None:
    """``WindowTotals.include`` for an ``HourTally``: empty buckets leave ``touched`` alone."""
    if tally is None or tally_is_empty(tally):
        return
    totals.touched = True
    counts = totals.counts
    for name, value in int_values(tally):
        if value:
            counts[name] = counts.get(name, 0) + value
    totals.reps.update(rep for rep, n in tally.reps.items() if n > 0)
    totals.customers.update(c for c, n in tally.customers.items() if n > 0)


def report(
    read_day: DayReader,
    key: str,
    now: datetime,
    grid: BucketGrid,
    stocks: StockReader | None = None,
    present: Collection[int] | None = None,
) -> dict[str, dict] | None:
    """KPIs of all six windows, or ``None`` when the key is not reported, like
    ``projections.readout.report``. ``present``: the key's days that hold a value, if known."""
    reads = KeyDays(read_day, key, present)
    totals = {window: window_totals(reads, key, window, now, grid) for window in WINDOWS}
    return reported(key, totals, stock_at(stocks, key, now))


def read_kpis(
    read_day: DayReader,
    key: str,
    window: str,
    now: datetime,
    grid: BucketGrid,
    stocks: StockReader | None = None,
    present: Collection[int] | None = None,
) -> dict:
    """One window's KPIs of ``key``, as ``projections.readout.read_kpis`` gives them."""
    scope, _ = split_scope_key(key)
    totals = window_totals(KeyDays(read_day, key, present), key, window, now, grid)
    return derive_kpis(scope, totals, stock_at(stocks, key, now))


def open_stock(
    total: Carry | None, later: Iterable[tuple[int, DayValue]], end_hour: int
) -> OpenStock:
    """The deals open at T (hour index ``end_hour``): every stock change of the key (``total``)
    minus those at T or later, read from ``later``, the key's day values from T's day on."""
    if total is None:  # no change ever, or changes that summed to nothing so far
        total = Carry()
    deals, amount, weighted = total.open_deals, total.open_amount, total.open_weighted
    for day, value in later:
        for hour, tally in value.hours.items():
            if day * HOURS_PER_DAY + hour >= end_hour:
                deals -= tally.open_delta
                amount -= tally.open_amount_delta
                weighted -= tally.open_weighted_delta
    return OpenStock(deals, amount, weighted)
