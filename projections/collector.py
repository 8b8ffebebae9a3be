"""Scrape-time Prometheus export of the KPIs (contract section 5).

No gauge objects live between scrapes: ``KpiCollector.collect`` reads the live buckets through a
``KpiSource`` when Prometheus asks, so a scrape always shows the tables as they are now and only
the keys this worker owns at that moment (summing over workers never double counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Protocol

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from projections.effects import split_scope_key
from projections.kpis import KPI_DEFINITIONS
from projections.readout import report
from projections.tally import Tally
from projections.timebase import BucketGrid

LABELS = ("scope", "id", "window")


class KpiSource(Protocol):
    def owned_keys(self) -> Iterable[str]:
        """Scope keys to export now: those whose partition this worker actively owns, recovered."""

    def lookup(self, key: str, grid_name: str, index: int) -> Tally | None: ...


class KpiCollector(Collector):
    def __init__(
        self, source: KpiSource, grid: BucketGrid, currency: str, clock: Callable[[], datetime]
    ) -> None:
        self._source, self._grid, self._currency, self._clock = source, grid, currency, clock

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
        for key in self._source.owned_keys():
            windows = report(self._source.lookup, key, now, self._grid)
            if windows is None:
                continue
            scope, scope_id = split_scope_key(key)
            for window, kpis in windows.items():
                for name, value in kpis.items():
                    families[name].add_metric([scope, scope_id, window], float(value))
        yield from families.values()
