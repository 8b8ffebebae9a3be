"""The Faust app factory: topics, state and agents of one salespulse worker.

Data flow (every topic has ``settings.partitions`` partitions, keys placed by murmur2):

    deal-events --fold_deals--> customer-wins --fold_customers--+
         |                                                       v
         +------------------------------------------------> kpi-deltas --apply_kpis--> buckets
    call-events, cost-events --fold_activity-----------------^

``fold_deals`` keeps each deal's own events (``deals``) and emits corrections of what the deal
contributes; ``fold_customers`` moves acquisitions (``customers``); ``fold_activity`` keeps the
first offset of each call and cost id (``seen``); ``apply_kpis`` adds corrections to the day
values of each (scope, id) (``days``: hours and local-day parts of one UTC day), its open-deal
stock total (``carry``) and the list of scope keys (``keys``). That state lives per partition in
the worker's local store, checkpointed at each commit (``streams.state.engine``), with snapshots
on ``<app id>.state`` for a worker that takes a partition over elsewhere; no Faust tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from events.build_info import register_build_info
from events.kafka_admin import DEAD_LETTER_MAX_BYTES, INTERNAL_TOPIC_CONFIG
from events.kafka_security import kafka_client_options
from events.models import REFUSED_FIELDS
from events.policy import event_policy
from events.settings import Settings
from events.topics import TopicNames
from projections.collector import KpiCollector, ReportCache
from projections.export_selection import ExportSelection
from projections.timebase import BucketGrid
from streams.catch_up import CatchUp, records_behind
from streams.faust_credentials import faust_broker_credentials
from streams.faust_ext.checkpointing_app import SalespulseApp
from streams.kpi_apply import kpi_apply_of
from streams.ownership import Ownership
from streams.pipeline import Pipeline, WorkerTopics
from streams.state.engine import StateEngine
from streams.state.options import StoreLimits
from streams.state.snapshot_kafka import STATE_TOPIC_CONFIG, KafkaStateTopic
from streams.state.snapshot_shipper import SnapshotShipper
from streams.telemetry import WorkerStatusCollector, WorkerTelemetry
from streams.web import register_views

CATCH_UP_CHECK_S = 2.0
"""How often a worker that must catch up first asks Kafka how far behind its group is."""


@dataclass(frozen=True)
class WorkerContext:
    """Everything a running worker exposes besides the Faust app itself: what its views, its
    metrics and the tests reach."""

    settings: Settings
    topics: WorkerTopics
    engine: StateEngine
    pipeline: Pipeline
    ownership: Ownership
    registry: CollectorRegistry


class WorkerApp(SalespulseApp):
    """A salespulse worker's Faust app, built with its topics, state, agents and views."""

    salespulse: WorkerContext
    """The worker's parts, built with the app (their topics and views need it)."""

    def __init__(self, settings: Settings) -> None:
        engine = _state_engine(settings)
        super().__init__(settings.app_id, state_engine=engine, **_faust_options(settings))
        if settings.snapshots_enabled:
            engine.snapshots = _snapshot_shipper(self, settings, engine)
        self.salespulse = _build_worker(self, settings, engine)
        register_views(self, self.salespulse)


def create_app(settings: Settings) -> WorkerApp:
    """Build a worker's Faust app (no I/O: the store opens at first use)."""
    return WorkerApp(settings)


def _state_engine(settings: Settings) -> StateEngine:
    """The worker's store, before its app: the app's consumer checkpoints it from the start."""
    _, kpi_deltas = settings.internal_topics
    # One state directory per generation: a rebuild's workers may share a data_dir with the old.
    return StateEngine(
        settings.table_store,
        settings.data_dir / settings.app_id,
        kpi_deltas,
        limits=StoreLimits.within(settings.state_memory_mb),
        fault_kill_at=settings.fault_kill_at,
    )


def _faust_options(settings: Settings) -> dict[str, Any]:
    """Faust's settings for a worker; the comments say why some differ from Faust's defaults."""
    return {
        "broker": [f"kafka://{server}" for server in settings.bootstrap_servers],
        # SASL/TLS as configured: the same mapping as ingest and the tools (events/kafka_security).
        "broker_credentials": faust_broker_credentials(settings),
        # The agents' state is not in Faust tables but in the worker's own store (state_engine).
        "store": "memory://",
        "datadir": str(settings.data_dir),
        "web_host": settings.worker_host,
        "web_port": settings.worker_web_port,
        "canonical_url": settings.advertised_worker_url,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        # Not for standbys (there are no tables): faust-streaming 0.15 uses its co-partitioning
        # assignor only with tables or standby replicas configured, else aiokafka's round robin
        # (transport/drivers/aiokafka.py). Partition p of every topic must go to one worker: its
        # state is one unit, and the assignment names each partition's worker for forwarding.
        "table_standby_replicas": 1,
        "producer_acks": -1,
        "broker_session_timeout": settings.worker_session_timeout_s,
        "broker_heartbeat_interval": settings.worker_heartbeat_interval_s,
        "broker_request_timeout": settings.worker_request_timeout_s,
        "consumer_metadata_max_age_ms": int(settings.worker_metadata_max_age_s * 1000),
        "producer_linger": settings.worker_producer_linger_s,
        "producer_max_batch_size": settings.worker_producer_batch_bytes,
        # A dead letter carries the original bytes, which may be as large as the broker accepts.
        "producer_max_request_size": DEAD_LETTER_MAX_BYTES,
        "autodiscover": False,
        "web_in_thread": False,
        # Faust's own views (/table/<name>/<key>/ dumps whole deals, /router/ forwards anywhere)
        # would bypass the read token: the worker serves only the views of streams/web.py.
        "web_tables_enabled": False,
        "web_router_enabled": False,
    }


def _build_worker(app: faust.App, settings: Settings, engine: StateEngine) -> WorkerContext:
    """Topics, agents, ownership and metrics of the worker whose app is ``app``."""
    names = TopicNames(settings.topic_prefix)
    topics = _declare_topics(app, settings, names)
    grid = BucketGrid(settings.time_zone)
    registry = CollectorRegistry(auto_describe=False)
    telemetry = WorkerTelemetry(registry)
    telemetry.start_at_zero(names.event_types_by_topic(), REFUSED_FIELDS)
    ownership = _ownership(app, settings, engine, grid)
    pipeline = Pipeline(
        names=names,
        topics=topics,
        state=engine,
        grid=grid,
        policy=event_policy(settings),
        telemetry=telemetry,
        retention_days=settings.retention_days,
        closed_deal_memory_days=settings.deal_memory_days,
        apply_max_keys=settings.batch_max_events,
        keys_changed=ownership.mark_changed,
        kpi_apply=kpi_apply_of(settings.apply_engine),
    )
    _declare_agents(app, settings, topics, pipeline)
    selection = ExportSelection.parse(
        settings.metrics_scopes, settings.metrics_windows, settings.metrics_kpis
    )
    registry.register(
        KpiCollector(
            ownership, grid, settings.reporting_currency, _utcnow, ReportCache(), selection
        )
    )
    registry.register(WorkerStatusCollector(app, ownership, telemetry, settings.partitions))
    register_build_info(registry)
    return WorkerContext(settings, topics, engine, pipeline, ownership, registry)


def _ownership(
    app: faust.App, settings: Settings, engine: StateEngine, grid: BucketGrid
) -> Ownership:
    """Who owns which key, ready once recovered and, if the setting asks, caught up."""
    catch_up = CatchUp(settings.ready_after_catch_up, lambda: records_behind(settings))
    if settings.ready_after_catch_up:
        app.timer(CATCH_UP_CHECK_S, name="catch-up")(catch_up.check)
    return Ownership(
        app,
        engine,
        engine.kpi_topic,
        settings.partitions,
        grid,
        caught_up=lambda: catch_up.done,
    )


def _declare_topics(app: faust.App, settings: Settings, names: TopicNames) -> WorkerTopics:
    n = settings.partitions
    customer_wins, kpi_deltas = settings.internal_topics
    return WorkerTopics(
        deal_events=_external(app, names.deal_events, n),
        call_events=_external(app, names.call_events, n),
        cost_events=_external(app, names.cost_events, n),
        dead_letters=_external(app, names.dead_letters, n),
        customer_wins=_internal(app, customer_wins, n),
        kpi_deltas=_internal(app, kpi_deltas, n),
    )


def _declare_agents(
    app: faust.App, settings: Settings, topics: WorkerTopics, pipeline: Pipeline
) -> None:
    size = settings.batch_max_events

    def batched(name, topic, handler, within=settings.batch_within_s):
        async def agent(stream):
            async for events in stream.take_events(size, within):
                await handler(events)
                pipeline.telemetry.batch_done(name, [e.message.timestamp for e in events])

        agent.__name__ = agent.__qualname__ = name
        app.agent(topic, name=name)(agent)

    batched("fold-deals", topics.deal_events, lambda ev: pipeline.on_event_batch("deal", ev))
    batched("fold-calls", topics.call_events, lambda ev: pipeline.on_event_batch("call", ev))
    batched("fold-costs", topics.cost_events, lambda ev: pipeline.on_event_batch("cost", ev))
    batched("fold-customers", topics.customer_wins, pipeline.on_customer_batch)
    batched("apply-kpis", topics.kpi_deltas, pipeline.on_kpi_batch, settings.apply_within_s)


def _external(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    return app.topic(name, partitions=partitions, key_serializer="raw", value_serializer="raw")


def _internal(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    return app.topic(
        name,
        partitions=partitions,
        internal=True,
        key_serializer="raw",
        value_serializer="raw",
        config=INTERNAL_TOPIC_CONFIG,
    )


def _snapshot_shipper(app: faust.App, settings: Settings, engine: StateEngine) -> SnapshotShipper:
    """Snapshots of the worker's partitions on ``<app id>.state`` (compacted, never consumed
    by an agent: declared at first use, read only to take a partition over)."""
    topic = app.topic(
        settings.state_topic,
        partitions=settings.partitions,
        internal=True,
        key_serializer="raw",
        value_serializer="raw",
        config=STATE_TOPIC_CONFIG,
    )
    kafka = KafkaStateTopic(
        settings.state_topic,
        settings.bootstrap_servers,
        kafka_client_options(settings),
        topic.maybe_declare,
    )
    return SnapshotShipper(
        kafka,
        settings.snapshot_interval_s,
        faults=engine.faults,
        records_between=settings.snapshot_every_records or None,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)
