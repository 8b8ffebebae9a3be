"""Scrape-time Prometheus export of the KPIs (contract section 5).

No gauge objects live between scrapes: ``KpiCollector.collect`` reads the live buckets through a
``KpiSource`` when Prometheus asks, so a scrape always shows the tables as they are now and only
the keys this worker owns at that moment (summing over workers never double counts).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from projections.effects import split_scope_key
from projections.kpis import KPI_DEFINITIONS
from projections.readout import report
from projections.tally import Tally
from projections.timebase import BucketGrid
from projections.windows import WINDOWS, WindowSpan, window_span

LABELS = ("scope", "id", "window")


class KpiSource(Protocol):
    def owned_keys(self) -> Iterable[str]:
        """Scope keys to export now: those whose partition this worker actively owns, recovered."""

    def lookup(self, key: str, grid_name: str, index: int) -> Tally | None: ...


class VersionedKpiSource(KpiSource, Protocol):
    def version(self, key: str) -> Hashable:
        """Changes whenever any bucket of ``key`` may have changed (a fold, a table recovery)."""


Report = Any


class ReportCache:
    """Each key's last six-window report, reused while neither its buckets nor the windows moved.

    A report depends on ``now`` only through the bucket ranges its windows sum (they move with
    the UTC hour and the local date), so the cache is emptied when those change. Why: re-summing
    up to 185 buckets per key on every scrape took 1.8 s for ~1,100 keys (docs/BENCHMARKS.md) and
    would pass Prometheus' scrape timeout at ten times that, while between two scrapes most keys
    do not change.
    """

    def __init__(self) -> None:
        self._period: tuple | None = None
        self._entries: dict[str, tuple[Hashable, Report]] = {}

    def report(
        self, key: str, version: Hashable, period: tuple, compute: Callable[[], Report]
    ) -> Report:
        """``compute()`` (a key's report in any form), or what it gave last time if still valid."""
        if period != self._period:
            self._entries.clear()
            self._period = period
        hit = self._entries.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        self._entries[key] = (version, value)
        return value


def report_period(now: datetime, grid: BucketGrid) -> tuple[WindowSpan, ...]:
    """What of ``now`` a report depends on: the bucket ranges of the six windows."""
    return tuple(window_span(window, now, grid) for window in WINDOWS)


class KpiCollector(Collector):
    def __init__(
        self,
        source: KpiSource,
        grid: BucketGrid,
        currency: str,
        clock: Callable[[], datetime],
        cache: ReportCache | None = None,
    ) -> None:
        """``cache`` needs a source with ``version`` (``VersionedKpiSource``)."""
        self._source, self._grid, self._currency, self._clock = source, grid, currency, clock
        self._cache = cache

    def describe(self) -> list[Metric]:
        # Registering must not scrape live tables; the families are dynamic anyway.
        return []

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("sales_reporting_currency", "Currency all amounts are reported in")
        info.add_metric([], {"currency": self._currency})
        yield info
        families = {
            name: GaugeMetricFamily(f"sales_{name}", help_text, labels=LABELS)
            for name, (help_text, _) in KPI_DEFINITIONS.items()
        }
        now = self._clock()
        period = None if self._cache is None else report_period(now, self._grid)
        for key in self._source.owned_keys():
            values = self._values(key, now, period)
            if values is None:
                continue
            scope, scope_id = split_scope_key(key)
            for (window, name), value in zip(SLOTS, values, strict=True):
                if not math.isnan(value):
                    families[name].add_metric([scope, scope_id, window], value)
        yield from families.values()

    def _values(self, key: str, now: datetime, period: tuple | None) -> array | None:
        def compute() -> array | None:
            return packed(report(self._source.lookup, key, now, self._grid))

        if self._cache is None or period is None:
            return compute()
        version = self._source.version(key)  # type: ignore[attr-defined]
        return self._cache.report(key, version, period, compute)


SLOTS = [(window, name) for window in WINDOWS for name in KPI_DEFINITIONS]
"""Every (window, KPI) a key can export, in the order of a packed report."""


def packed(windows: Report) -> array | None:
    """A report as one float per slot, NaN where a KPI is absent (undefined ratio): 8 bytes a
    value, so a cache of every key's report stays small next to the tables."""
    if windows is None:
        return None
    return array("d", (float(windows[w].get(n, math.nan)) for w, n in SLOTS))
