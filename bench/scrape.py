"""``python -m bench scrape``: one worker's ``/metrics`` at 100k (and 843k) KPI series, in process.

No Kafka: a synthetic ``KpiSource`` (reps, teams, channels, the company, each with buckets in
every window) stands for a worker's tables. Both paths scrape the same source at the same instant
in the same run, on a registry laid out like a worker's (counters, KPI families, build info):

- baseline: the collector ``/metrics`` used before (``BaselineCollector``: gauge families built on
  every scrape from each key's packed report, cached per key version), then ``generate_latest``;
- new: ``KpiCollector`` (each key's exposition lines cached per key version) + ``render_registry``.

Figures: a first scrape (cold caches) and a steady-state scrape after 1 % of the keys changed
(median of a few rounds). The two outputs are checked byte for byte at every scrape.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from array import array
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from bench.stats import Figure, format_ms, format_ratio, ratio
from events.build_info import register_build_info
from projections.collector import LABELS, KpiCollector, ReportCache, report_period
from projections.effects import split_scope_key
from projections.kpi_exposition import render_registry
from projections.kpis import KPI_DEFINITIONS
from projections.readout import bucket_updates, report
from projections.tally import Tally, to_micros
from projections.timebase import BucketGrid, quarter_of, to_us
from projections.windows import WINDOWS
from streams.routing import partition_of
from streams.telemetry import WorkerTelemetry

SIZES = (100_000, 843_000)
NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
CHANGED_SHARE = 0.01
TARGET_S, TARGET_SERIES = 0.100, 100_000
PARTITIONS = 8
HISTORY = (timedelta(0), timedelta(days=3), timedelta(days=20), timedelta(days=40))
"""Where each key has activity: this hour, this week, this month, this quarter only."""


class BaselineCollector(Collector):
    """The KPI collector as it was before issue 14 (the baseline; kept verbatim in behaviour)."""

    def __init__(self, source, grid: BucketGrid, currency: str, clock, cache: ReportCache):
        self._source, self._grid, self._currency, self._clock = source, grid, currency, clock
        self._cache = cache

    def describe(self) -> list[Metric]:
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
        period = report_period(now, self._grid)
        for key in self._source.owned_keys():
            values = self._cache.report(
                key,
                self._source.version(key),
                period,
                lambda key=key: packed(report(self._source.lookup, key, now, self._grid)),
            )
            if values is None:
                continue
            scope, scope_id = split_scope_key(key)
            for (window, name), value in zip(SLOTS, values, strict=True):
                if not math.isnan(value):
                    families[name].add_metric([scope, scope_id, window], value)
        yield from families.values()


SLOTS = [(window, name) for window in WINDOWS for name in KPI_DEFINITIONS]


def packed(windows) -> array | None:
    if windows is None:
        return None
    return array("d", (float(windows[w].get(n, math.nan)) for w, n in SLOTS))


class SyntheticSource:
    """A worker's tables reduced to what a scrape reads: owned keys, buckets, key versions.

    ``owned_keys`` filters by partition like ``streams.ownership.Ownership`` (this worker owns
    them all), so that cost is in both paths' figures.
    """

    def __init__(self, grid: BucketGrid, reps: int, seed: int = 14) -> None:
        self._grid, self._rng = grid, random.Random(seed)
        teams = max(1, reps // 10)
        self.keys = (
            [f"rep|rep-{i}" for i in range(reps)]
            + [f"team|team-{i}" for i in range(teams)]
            + [f"channel|{name}" for name in CHANNELS]
            + ["company|"]
        )
        self.buckets: dict[tuple[str, str, int], Tally] = {}
        self.versions: dict[str, int] = {}
        for key in self.keys:
            quarters = [(quarter_of(to_us(NOW - ago)), self._activity(key)) for ago in HISTORY]
            for (grid_name, index), tally in bucket_updates(quarters, grid).items():
                self.buckets[(key, grid_name, index)] = tally

    def owned_keys(self) -> Iterator[str]:
        owned = set(range(PARTITIONS))
        return (key for key in list(self.keys) if partition_of(key, PARTITIONS) in owned)

    def lookup(self, key: str, grid_name: str, index: int) -> Tally | None:
        return self.buckets.get((key, grid_name, index))

    def report(self, key: str, now: datetime) -> dict[str, dict] | None:
        return report(self.lookup, key, now, self._grid)

    def version(self, key: str) -> int:
        return self.versions.get(key, 0)

    def change(self, share: float) -> int:
        """A fold into ``share`` of the keys (in this hour's bucket); how many keys it touched."""
        touched = self._rng.sample(self.keys, max(1, round(len(self.keys) * share)))
        hour = self._grid.buckets_of(quarter_of(to_us(NOW)))[0]
        for key in touched:
            self.buckets[(key, *hour)].add(self._activity(key))
            self.versions[key] = self.version(key) + 1
        return len(touched)

    def _activity(self, key: str) -> Tally:
        rng = self._rng
        won = rng.randint(1, 9)
        counts = {
            "opportunities": won + rng.randint(0, 9),
            "deals_won": won,
            "deals_lost": rng.randint(1, 5),
            "revenue": to_micros(round(rng.uniform(100, 250_000), 2)),
            "calls": rng.randint(1, 40),
            "new_customers": rng.randint(1, won),
            "cost_marketing": to_micros(round(rng.uniform(10, 9_000), 2)),
            "cost_sales": to_micros(round(rng.uniform(10, 9_000), 2)),
        }
        reps = {f"rep-{rng.randrange(50)}": 1 for _ in range(rng.randint(1, 4))}
        customers = {f"c-{rng.randrange(10_000)}": 1 for _ in range(won)}
        return Tally(counts, reps, customers)


CHANNELS = ("linkedin", "email", "referral", "events", "ads", "partners", "organic", "outbound")


def reps_for(series: int) -> int:
    """Reps giving about ``series`` KPI series: a rep exports 84, a team (one per 10 reps) 102."""
    return max(1, round((series - 8 * 84 - 102) / (84 + 102 / 10)))


def worker_registries(*collectors: Collector) -> list[CollectorRegistry]:
    """Registries laid out like a worker's (telemetry, the KPIs, build info), one per KPI
    collector, sharing the same telemetry so that their outputs can be compared byte for byte."""
    registries = [CollectorRegistry(auto_describe=False) for _ in collectors]
    telemetry = WorkerTelemetry(registries[0])
    for topic in ("sales.deal-events", "sales.call-events", "sales.cost-events"):
        telemetry.event_processed(topic, "deal.created", 0.0)
    telemetry.batch_done("apply-kpis", [time.time() - 0.05])
    for registry, collector in zip(registries, collectors, strict=True):
        if registry is not registries[0]:
            for metric in vars(telemetry).values():
                if isinstance(metric, MetricWrapperBase):
                    registry.register(metric)
        registry.register(collector)
        register_build_info(registry)
    return registries


def timed(scrape: Callable[[], bytes]) -> tuple[float, bytes]:
    started = time.perf_counter()
    body = scrape()
    return time.perf_counter() - started, body


def measure(series: int, rounds: int) -> dict[str, float]:
    """Seconds of each path's first and steady scrapes at about ``series`` series."""
    grid = BucketGrid("UTC")
    source = SyntheticSource(grid, reps_for(series))
    old, new = worker_registries(
        BaselineCollector(source, grid, "EUR", lambda: NOW, ReportCache()),
        KpiCollector(source, grid, "EUR", lambda: NOW, ReportCache()),
    )
    old_first, old_body = timed(lambda: generate_latest(old))
    new_first, new_body = timed(lambda: render_registry(new))
    same(old_body, new_body)
    steady_old, steady_new = [], []
    for _ in range(rounds):
        source.change(CHANGED_SHARE)
        old_s, old_body = timed(lambda: generate_latest(old))
        new_s, new_body = timed(lambda: render_registry(new))
        same(old_body, new_body)
        steady_old.append(old_s)
        steady_new.append(new_s)
    return {
        "series": float(new_body.count(b"\nsales_") - 1),  # minus the currency line
        "keys": float(len(source.keys)),
        "bytes": float(len(new_body)),
        "old_first": old_first,
        "new_first": new_first,
        "old_steady": statistics.median(steady_old),
        "new_steady": statistics.median(steady_new),
    }


def same(old_body: bytes, new_body: bytes) -> None:
    """A faster path is worth nothing if it says something else."""
    if old_body != new_body:
        raise AssertionError("the new /metrics differs from the baseline's")


def figures(m: dict[str, float]) -> list[Figure]:
    size = f"{m['series'] / 1000:,.0f}k series ({m['keys']:,.0f} keys, {m['bytes'] / 1e6:.1f} MB)"
    steady_met = m["new_steady"] <= TARGET_S if m["series"] <= TARGET_SERIES * 1.05 else None
    return [
        Figure("scrape", f"first /metrics, {size}", compare(m["old_first"], m["new_first"])),
        Figure(
            "scrape",
            f"steady /metrics (1 % keys changed), {size}",
            compare(m["old_steady"], m["new_steady"]),
            f"≤ {TARGET_S * 1000:.0f} ms at 100k series" if steady_met is not None else "",
            steady_met,
        ),
    ]


def compare(old_s: float, new_s: float) -> str:
    return (
        f"{format_ms(new_s)} (baseline {format_ms(old_s)}: "
        f"{format_ratio(ratio(old_s, new_s))} faster)"
    )


async def run(sizes: tuple[int, ...] = SIZES, rounds: int = 3) -> list[Figure]:
    results: list[Figure] = []
    for series in sizes:
        started = time.monotonic()
        m = measure(series, rounds)
        results += figures(m)
        print(f"scrape {series:,}: {time.monotonic() - started:.0f}s", flush=True)
    return results
