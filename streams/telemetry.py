"""Operational metrics of a worker (docs/METRICS.md), on the same registry as the KPI gauges.

Counters and the latency histogram are updated by the pipeline as batches are folded; everything
that describes the worker's current state (lag, ownership, recovery) is read from the Faust app at
scrape time by ``WorkerStatusCollector`` (``streams.faust_ext.introspect``), so it can never be
stale.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.faust_ext import introspect

PROCESSING_LATENCY_METRIC = "salespulse_processing_latency_seconds"
"""Seconds from a message's Kafka timestamp to the end of the batch that folded it, per agent
(read back by ``bench pipeline`` for the apply agent's wait)."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_FIELD = re.compile(r"^([a-z_]+):")


def reason_label(reason: str) -> str:
    """The field a refusal names ("amount: must be ..." -> "amount"): a bounded label value."""
    match = _FIELD.match(reason)
    return match.group(1) if match else "other"


class WorkerTelemetry:
    """What the agents count as they fold batches."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.processed = Counter(
            "salespulse_events_processed",
            "Events folded by topic and type",
            ["topic", "type"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "salespulse_dead_letters",
            "Messages sent to the dead-letter topic, by source topic and refused field",
            ["topic", "reason"],
            registry=registry,
        )
        self.deals_forgotten = Counter(
            "salespulse_deals_forgotten",
            "Closed deals deleted SALESPULSE_CLOSED_DEAL_MEMORY_DAYS after their latest event",
            registry=registry,
        )
        self.latency = Histogram(
            PROCESSING_LATENCY_METRIC,
            "From a message's Kafka timestamp to the end of the batch that folded it",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.last_event_time: dict[str, float] = {}

    def start_at_zero(
        self, types_by_topic: Mapping[str, Iterable[str]], refused_fields: Iterable[str]
    ) -> None:
        """Show every known (topic, type) and (topic, refused field) at 0 from the start, so that
        a healthy worker's dashboards read 0 rather than "No data" and rate() sees the first one.
        """
        fields = [*refused_fields, "other"]
        for topic, event_types in types_by_topic.items():
            for event_type in event_types:
                self.processed.labels(topic, event_type)
            for field in fields:
                self.dead_letters.labels(topic, field)

    def event_processed(self, topic: str, event_type: str, occurred_at_s: float) -> None:
        self.processed.labels(topic, event_type).inc()
        self.last_event_time[topic] = occurred_at_s

    def dead_lettered(self, topic: str, reason: str) -> None:
        self.dead_letters.labels(topic, reason_label(reason)).inc()

    def batch_done(self, agent: str, kafka_timestamps_s: list[float | None]) -> None:
        now = time.time()
        histogram = self.latency.labels(agent)
        for stamp in kafka_timestamps_s:
            if stamp:
                histogram.observe(max(0.0, now - stamp))


class WorkerStatusCollector(Collector):
    """Scrape-time view of the worker: lag, ownership, recovery, rebalances."""

    def __init__(self, app: Any, ownership: Any, telemetry: WorkerTelemetry, partitions: int):
        self._app, self._ownership, self._telemetry = app, ownership, telemetry
        self._partitions = partitions

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield self._consumer_lag()
        event_lag = GaugeMetricFamily(
            "salespulse_event_time_lag_seconds",
            "Now minus occurred_at of the last processed event",
            labels=["topic"],
        )
        now = time.time()
        for topic, occurred in sorted(self._telemetry.last_event_time.items()):
            event_lag.add_metric([topic], now - occurred)
        yield event_lag
        engine = getattr(self._app, "state_engine", None)
        if engine is not None:
            yield CounterMetricFamily(
                "salespulse_checkpoints",
                "Commits whose state was checkpointed to the local store",
                value=engine.checkpoints,
            )
            yield CounterMetricFamily(
                "salespulse_checkpoint_seconds",
                "Time spent writing checkpoints (on the event loop: it delays folding)",
                value=engine.checkpoint_seconds,
            )
            if engine.snapshots is not None:
                yield from _snapshot_metrics(engine.snapshots.counters)
        yield CounterMetricFamily(
            "salespulse_rebalances",
            "Consumer-group rebalances seen",
            value=introspect.rebalance_count(self._app),
        )
        yield GaugeMetricFamily(
            "salespulse_table_recovery_in_progress",
            "1 while a rebalance or the replay of its partitions is under way",
            value=0 if self._ownership.is_recovered() else 1,
        )
        yield GaugeMetricFamily(
            "salespulse_owned_partitions",
            "kpi-deltas partitions this worker actively owns",
            value=len(self._ownership.owned_partitions()),
        )
        yield GaugeMetricFamily(
            "salespulse_partitions", "Configured partitions per topic", value=self._partitions
        )

    def _consumer_lag(self) -> Metric:
        lag = GaugeMetricFamily(
            "salespulse_consumer_lag",
            "Messages not yet consumed on partitions this worker owns",
            labels=["topic", "partition"],
        )
        for topic, partition, behind in introspect.consumer_lag(self._app):
            lag.add_metric([topic, str(partition)], behind)
        return lag


def _snapshot_metrics(counters: Any) -> Iterator[Metric]:
    """The state topic's side of recovery: what was written, refused, restored."""
    yield CounterMetricFamily(
        "salespulse_snapshots", "Partition snapshots acknowledged by Kafka", value=counters.written
    )
    yield CounterMetricFamily(
        "salespulse_snapshot_failures",
        "Partition snapshots not acknowledged (the previous complete one stays restorable)",
        value=counters.failed,
    )
    yield CounterMetricFamily(
        "salespulse_snapshot_bytes",
        "Bytes of acknowledged snapshot records (chunks and manifests)",
        value=counters.bytes,
    )
    yield CounterMetricFamily(
        "salespulse_state_restores",
        "Partitions restored from a snapshot (taken over without a local checkpoint)",
        value=counters.restored,
    )
    yield CounterMetricFamily(
        "salespulse_state_restore_failures",
        "Snapshot restores that failed or timed out: the partition replayed its logs instead",
        value=counters.restore_failures,
    )
