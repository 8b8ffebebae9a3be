"""Read side: sum a scope key's buckets over the six windows and derive its KPIs.

Bucket storage is abstract (a lookup function), so the same code reads the Faust tables of a
worker and the in-memory store of a from-scratch recomputation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from projections.effects import QuarterHourCorrections, split_scope_key
from projections.kpis import NO_OPEN_DEALS, OpenStock, derive_kpis
from projections.tally import Tally, WindowTotals
from projections.timebase import HOURLY, BucketGrid, Grid
from projections.windows import WINDOWS, stock_hour, window_span

BucketLookup = Callable[[str, Grid, int], Tally | None]
"""(scope key, grid, bucket index) -> the bucket's tally, ``None`` if it holds nothing."""
StockReader = Callable[[str, int], OpenStock]
"""(scope key, hour index T) -> the key's deals open at T (contract section 2.6)."""


def window_totals(
    lookup: BucketLookup, key: str, window: str, now: datetime, grid: BucketGrid
) -> WindowTotals:
    span = window_span(window, now, grid)
    totals = WindowTotals()
    for index in span.indexes():
        bucket = lookup(key, span.grid, index)
        if bucket is not None:
            totals.include(bucket)
    return totals


def stock_at(stocks: StockReader | None, key: str, now: datetime) -> OpenStock:
    """The key's deals open at T = hour(now) + 1h; without ``stocks``, none."""
    return stocks(key, stock_hour(now)) if stocks is not None else NO_OPEN_DEALS


def reported(key: str, totals: dict[str, WindowTotals], stock: OpenStock) -> dict[str, dict] | None:
    """Contract section 4: a (scope, id) with a contribution in any window, or (v2) with a deal
    open at T, is reported for all six windows; else ``None``."""
    if not any(t.touched for t in totals.values()) and not stock.deals:
        return None
    scope, _ = split_scope_key(key)
    kpis: dict[int, dict] = {}  # windows given one WindowTotals object share their KPIs too
    for window_totals_ in totals.values():
        if id(window_totals_) not in kpis:
            kpis[id(window_totals_)] = derive_kpis(scope, window_totals_, stock)
    return {window: kpis[id(t)] for window, t in totals.items()}


def read_kpis(
    lookup: BucketLookup,
    key: str,
    window: str,
    now: datetime,
    grid: BucketGrid,
    stocks: StockReader | None = None,
) -> dict:
    scope, _ = split_scope_key(key)
    totals = window_totals(lookup, key, window, now, grid)
    return derive_kpis(scope, totals, stock_at(stocks, key, now))


def report(
    lookup: BucketLookup,
    key: str,
    now: datetime,
    grid: BucketGrid,
    stocks: StockReader | None = None,
) -> dict[str, dict] | None:
    """KPIs of all six windows, or ``None`` when the key is not reported (``reported``)."""
    totals = {window: window_totals(lookup, key, window, now, grid) for window in WINDOWS}
    return reported(key, totals, stock_at(stocks, key, now))


def bucket_updates(
    quarters: Iterable[tuple[int, Tally]], grid: BucketGrid
) -> dict[tuple[Grid, int], Tally]:
    """Fold quarter-hour corrections of one key into corrections of its grid buckets."""
    updates: dict[tuple[Grid, int], Tally] = {}
    for quarter, tally in quarters:
        for bucket in grid.buckets_of(quarter):
            target = updates.get(bucket)
            if target is None:
                target = updates[bucket] = Tally()
            target.add(tally)
    return updates


class BucketStore:
    """Plain in-memory buckets: the state of a from-scratch recomputation."""

    def __init__(self, grid: BucketGrid) -> None:
        self.grid = grid
        self.buckets: dict[tuple[str, Grid, int], Tally] = {}

    def apply(self, corrections: QuarterHourCorrections) -> None:
        for key, quarters in corrections.items():
            for (grid_name, index), update in bucket_updates(quarters, self.grid).items():
                bucket = self.buckets.setdefault((key, grid_name, index), Tally())
                bucket.add(update)
                if bucket.is_empty():
                    del self.buckets[(key, grid_name, index)]

    def lookup(self, key: str, grid_name: Grid, index: int) -> Tally | None:
        return self.buckets.get((key, grid_name, index))

    def open_stock(self, key: str, end_hour: int) -> OpenStock:
        """Every open-stock change of ``key`` in an hour before ``end_hour``, summed."""
        deals = amount = weighted = 0
        for (scope_key, grid_name, index), tally in self.buckets.items():
            if scope_key == key and grid_name == HOURLY and index < end_hour:
                counts = tally.counts
                deals += counts.get("open_delta", 0)
                amount += counts.get("open_amount_delta", 0)
                weighted += counts.get("open_weighted_delta", 0)
        return OpenStock(deals, amount, weighted)

    def report(self, key: str, now: datetime) -> dict[str, dict] | None:
        """``report`` of one key, stocks included."""
        return report(self.lookup, key, now, self.grid, self.open_stock)

    def keys(self) -> set[str]:
        return {key for key, _, _ in self.buckets}

    def report_all(self, now: datetime) -> dict[str, dict]:
        """``scope|id|window`` -> KPIs for every reported key, like ``golden/expected.json``."""
        out: dict[str, dict] = {}
        for key in sorted(self.keys()):
            windows = self.report(key, now)
            for window, kpis in (windows or {}).items():
                out[f"{key}|{window}"] = kpis
        return out
