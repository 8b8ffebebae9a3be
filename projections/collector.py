"""Scrape-time Prometheus export of the KPIs (contract section 5).

No gauge objects live between scrapes: ``KpiCollector.collect`` reads the live buckets through a
``KpiSource`` when Prometheus asks, so a scrape always shows the tables as they are now and only
the keys this worker owns at that moment (summing over workers never double counts). What it
keeps between scrapes is each key's already-rendered exposition lines (``ReportCache``), valid
until the key's buckets change or the windows move; ``projections.kpi_exposition`` renders them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from projections.effects import split_scope_key
from projections.export_selection import ExportSelection
from projections.kpi_exposition import LABELS, KeyLines, KpiFamilies, key_lines
from projections.timebase import BucketGrid
from projections.windows import WINDOWS, WindowSpan, window_span

__all__ = ["LABELS", "KpiCollector", "KpiSource", "ReportCache", "VersionedKpiSource"]


class KpiSource(Protocol):
    def owned_keys(self) -> Iterable[str]:
        """Scope keys to export now: those whose partition this worker actively owns, recovered."""

    def report(self, key: str, now: datetime) -> dict[str, dict] | None:
        """The key's KPIs of the six windows at ``now`` (``projections.readout.report``), or
        None when it contributes to none."""


class VersionedKpiSource(KpiSource, Protocol):
    def version(self, key: str) -> Hashable:
        """Changes whenever any bucket of ``key`` may have changed (a fold, a table recovery)."""


Report = Any


class ReportCache:
    """Each key's last report (in any form: here its rendered lines), reused while neither its
    buckets nor the windows moved.

    A report depends on ``now`` only through the bucket ranges its windows sum (they move with
    the UTC hour and the local date), so the cache is emptied when those change. Why: between
    two scrapes most keys do not change, and summing a key's days and formatting its series
    again on every scrape is most of what a scrape costs ("Scrape path" in docs/BENCHMARKS.md).
    Emptying it every hour also forgets keys this worker no longer owns.
    """

    def __init__(self) -> None:
        self._period: tuple | None = None
        self._entries: dict[str, tuple[Hashable, Report]] = {}

    def report(
        self, key: str, version: Hashable, period: tuple, compute: Callable[[], Report]
    ) -> Report:
        """``compute()`` (a key's report in any form), or what it gave last time if still valid."""
        if period is not self._period:
            if period != self._period:
                self._entries.clear()
            self._period = period  # the next keys of the same scrape pass by identity
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
    """The KPI families of the owned keys, as ``RenderedFamily``s for ``render_registry``.

    A family's series are contiguous under one HELP/TYPE header, keys in ``owned_keys`` order and
    each key's windows in contract order: the same text ``generate_latest`` made from gauge
    families. Only what ``selection`` names is exported (default: everything).
    """

    def __init__(
        self,
        source: KpiSource,
        grid: BucketGrid,
        currency: str,
        clock: Callable[[], datetime],
        cache: ReportCache | None = None,
        selection: ExportSelection | None = None,
    ) -> None:
        """``cache`` needs a source with ``version`` (``VersionedKpiSource``)."""
        self._source, self._grid, self._clock = source, grid, clock
        self._cache = cache
        self._selection = selection or ExportSelection()
        self._families = KpiFamilies(currency, self._selection)

    def describe(self) -> list[Metric]:
        # Registering must not scrape live tables; the families are dynamic anyway.
        return []

    def collect(self) -> Iterator[Metric]:
        yield self._families.currency
        now = self._clock()
        period = None if self._cache is None else report_period(now, self._grid)
        scopes = self._selection.scopes
        rows: list[KeyLines] = []
        for key in self._source.owned_keys():
            if split_scope_key(key)[0] not in scopes:
                continue
            lines = self._lines(key, now, period)
            if lines is not None:
                rows.append(lines)
        yield from self._families.families(rows)

    def _lines(self, key: str, now: datetime, period: tuple | None) -> KeyLines | None:
        def compute() -> KeyLines | None:
            windows = self._source.report(key, now)
            return key_lines(key, windows, self._selection)

        if self._cache is None or period is None:
            return compute()
        version = self._source.version(key)  # type: ignore[attr-defined]
        return self._cache.report(key, version, period, compute)
