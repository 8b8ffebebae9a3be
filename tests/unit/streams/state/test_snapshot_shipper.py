"""Snapshots after checkpoints, and a worker without a checkpoint taking a partition over.

A real ``StateEngine`` on disk, the state topic faked per partition
(``tests.support.snapshot_topic.StateTopicPartitions``), the consumer hooks of
``tests.support.checkpoint_consumer``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from streams.state.engine import StateEngine
from streams.state.faults import IN_SNAPSHOT, FaultSwitch
from streams.state.layout import PENDING
from streams.state.snapshot_shipper import SnapshotShipper
from streams.telemetry import WorkerStatusCollector, WorkerTelemetry
from tests.support.checkpoint_consumer import DEALS0, DEALS1, KPI, KPI0, KPI1, Consumer
from tests.support.snapshot_topic import StateTopicPartitions, state_of


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordedFaults(FaultSwitch):
    def __init__(self, topic: StateTopicPartitions) -> None:
        self.topic, self.seen = topic, []

    def reached(self, point: str) -> None:
        self.seen.append((point, len(self.topic.of(0).log)))


@pytest.fixture
def topic() -> StateTopicPartitions:
    return StateTopicPartitions()


@pytest.fixture
def make_worker(tmp_path, topic):
    """A worker's engine (own data dir) with snapshots on the shared ``topic``."""
    engines = []

    def make(
        name: str = "a",
        url: str = "rocksdb://",
        interval_s: float = 60.0,
        faults=None,
        records_between: int | None = None,
    ):
        engine = StateEngine(url, tmp_path / name, KPI)
        clock = Clock()
        shipper = SnapshotShipper(topic, interval_s, clock=clock, records_between=records_between)
        if faults is not None:
            shipper.faults = faults
        engine.snapshots = shipper
        engines.append(engine)
        return engine, clock

    yield make
    for engine in engines:
        engine.close()


def commit(engine: StateEngine, offsets: dict, generation: int = 3) -> None:
    """A commit as the consumer makes it, then let the snapshot sends run."""

    async def run() -> None:
        consumer = Consumer(engine, set(offsets), {})
        consumer.app.consumer_generation_id = generation
        await consumer._commit(offsets)
        await engine.snapshots.sent(timeout_s=5)

    asyncio.run(run())


def test_a_checkpoint_with_changes_is_snapshotted_and_its_pending_markers_settled(
    make_worker, topic
):
    engine, _ = make_worker()
    engine.table("deals", 0)["deal-1"] = {"events": [["e1", 1, 4, "deal.created", {}]]}
    commit(engine, {DEALS0: 5, KPI0: 2})
    assert engine.snapshots.counters.written == 1
    assert topic.of(0).live_keys(), "chunks and a manifest reached partition 0 of the topic"
    assert list(engine.store.scan(PENDING, 0)) == [], "an acknowledged snapshot settles them"
    assert topic.of(1).log == [], "partition 1 had no commit"


def test_no_second_snapshot_is_written_before_the_interval_has_passed(make_worker, topic):
    engine, clock = make_worker(interval_s=60)
    deals = engine.table("deals", 0)
    deals["deal-1"] = {"events": []}
    commit(engine, {DEALS0: 1})
    deals["deal-2"] = {"events": []}
    clock.now = 59
    commit(engine, {DEALS0: 2})
    assert engine.snapshots.counters.written == 1
    clock.now = 60
    commit(engine, {DEALS0: 3})
    assert engine.snapshots.counters.written == 2


def test_a_partition_far_ahead_of_its_last_snapshot_gets_the_next_one_before_the_interval(
    make_worker,
):
    engine, clock = make_worker(interval_s=60, records_between=100)
    deals = engine.table("deals", 0)
    deals["deal-1"] = {"events": []}
    commit(engine, {DEALS0: 10})
    deals["deal-2"] = {"events": []}
    clock.now = 5
    commit(engine, {DEALS0: 109})
    assert engine.snapshots.counters.written == 1, "99 records since the last one: not yet"
    deals["deal-3"] = {"events": []}
    commit(engine, {DEALS0: 110})
    assert engine.snapshots.counters.written == 2, "100 records past it, 5 s into the interval"


def test_a_worker_without_a_checkpoint_restores_the_snapshot_and_resumes_from_its_offsets(
    make_worker, topic
):
    owner, _ = make_worker("owner", interval_s=0)
    owner.table("deals", 1)["deal-9"] = {"events": [["e9", 7, 11, "deal.created", {}]]}
    owner.live_keys(1)["rep:r1"] = 1
    commit(owner, {DEALS1: 12, KPI1: 30})
    expected = state_of(owner.store, 1)

    fresh, _ = make_worker("fresh-host", url="memory://")
    fresh.live_keys(1)  # a view made before the take-over must not keep the old state
    consumer = Consumer(fresh, {DEALS1, KPI1}, {DEALS1: 12, KPI1: 31})
    resumed = asyncio.run(consumer.seek_to_committed())

    assert resumed == {DEALS1: 12, KPI1: 30}
    assert state_of(fresh.store, 1) == expected
    assert fresh.table("deals", 1)["deal-9"] == {"events": [["e9", 7, 11, "deal.created", {}]]}
    assert "rep:r1" in fresh.live_keys(1)
    assert fresh.replay_remaining({1}) == 1, "only the kpi-deltas after the snapshot replay"


def test_a_partition_with_a_local_checkpoint_resumes_from_it_and_not_from_the_topic(
    make_worker, topic
):
    other, _ = make_worker("other", interval_s=0)
    other.table("deals", 0)["deal-1"] = {"events": []}
    commit(other, {DEALS0: 50})
    local, _ = make_worker("local")
    local.store.checkpoint(0, {"deals": 20})
    resumed = asyncio.run(Consumer(local, {DEALS0}, {DEALS0: 50}).seek_to_committed())
    assert resumed == {DEALS0: 20}
    assert "deal-1" not in local.table("deals", 0)


def test_without_any_snapshot_a_new_partition_resumes_from_the_start(make_worker):
    fresh, _ = make_worker("fresh", url="memory://")
    resumed = asyncio.run(Consumer(fresh, {DEALS0, KPI0}, {DEALS0: 9}).seek_to_committed())
    assert resumed == {DEALS0: 0, KPI0: 0}


def test_a_refused_snapshot_keeps_the_last_acknowledged_one_restorable(make_worker, topic):
    owner, clock = make_worker("owner", interval_s=0)
    deals = owner.table("deals", 0)
    deals["deal-1"] = {"events": []}
    commit(owner, {DEALS0: 1})
    acknowledged = state_of(owner.store, 0)
    topic.fail_sends = True
    deals["deal-2"] = {"events": []}
    commit(owner, {DEALS0: 2})
    assert owner.snapshots.counters.failed == 1
    assert list(owner.store.scan(PENDING, 0)), "unsent changes stay pending for the next one"

    fresh, _ = make_worker("fresh", url="memory://")
    resumed = asyncio.run(Consumer(fresh, {DEALS0}, {DEALS0: 2}).seek_to_committed())
    assert resumed == {DEALS0: 1}
    assert state_of(fresh.store, 0) == acknowledged

    topic.fail_sends = False
    deals["deal-3"] = {"events": []}
    commit(owner, {DEALS0: 3})
    later, _ = make_worker("later", url="memory://")
    asyncio.run(Consumer(later, {DEALS0}, {DEALS0: 3}).seek_to_committed())
    assert set(later.table("deals", 0)) == {"deal-1", "deal-2", "deal-3"}


def test_the_snapshot_fault_point_lies_between_the_chunks_and_the_manifest(make_worker, topic):
    faults = RecordedFaults(topic)
    owner, _ = make_worker("owner", interval_s=0, faults=faults)
    owner.table("deals", 0)["deal-1"] = {"events": []}
    commit(owner, {DEALS0: 1})
    log = topic.of(0).log
    assert faults.seen == [(IN_SNAPSHOT, len(log) - 1)], "every record but the manifest is sent"


def test_a_zombie_of_an_older_generation_writes_no_snapshot(make_worker, topic):
    owner, _ = make_worker("owner", interval_s=0)
    deals = owner.table("deals", 0)
    deals["deal-1"] = {"events": []}
    commit(owner, {DEALS0: 1}, generation=5)
    sent = len(topic.of(0).log)
    deals["deal-2"] = {"events": []}
    commit(owner, {DEALS0: 2}, generation=4)
    assert len(topic.of(0).log) == sent


def test_snapshots_and_restores_are_counted_on_the_workers_metrics(make_worker, topic):
    owner, _ = make_worker("owner", interval_s=0)
    deals = owner.table("deals", 0)
    deals["deal-1"] = {"events": []}
    commit(owner, {DEALS0: 1})
    topic.fail_sends = True
    deals["deal-2"] = {"events": []}
    commit(owner, {DEALS0: 2})
    topic.fail_sends = False
    fresh, _ = make_worker("fresh", url="memory://")
    asyncio.run(Consumer(fresh, {DEALS0}, {}).seek_to_committed())

    def samples(engine: StateEngine) -> dict:
        app = SimpleNamespace(state_engine=engine, rebalancing_count=0)
        ownership = SimpleNamespace(is_recovered=lambda: True, owned_partitions=set)
        collector = WorkerStatusCollector(app, ownership, WorkerTelemetry(CollectorRegistry()), 1)
        collector._consumer_lag = lambda: GaugeMetricFamily("lag", "no consumer in this test")
        return {s.name: s.value for m in collector.collect() for s in m.samples}

    written = samples(owner)
    assert (
        written["salespulse_snapshots_total"],
        written["salespulse_snapshot_failures_total"],
    ) == (1, 1)
    assert written["salespulse_snapshot_bytes_total"] > 0
    assert samples(fresh)["salespulse_state_restores_total"] == 1


@pytest.mark.parametrize(("enabled", "interval"), [(True, 60.0), (True, 0.0), (False, 60.0)])
def test_a_worker_snapshots_to_the_state_topic_of_its_generation_unless_disabled(
    tmp_path, enabled, interval
):
    from events.settings import Settings
    from streams.app import create_app

    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        topic_prefix="acme.",
        table_generation="g2",
        snapshots_enabled=enabled,
        snapshot_interval_s=interval,
    )
    shipper = create_app(settings).state_engine.snapshots
    if not enabled:
        assert shipper is None
        return
    assert shipper.topic.name == settings.state_topic == "acme.salespulse.g2.state"
    assert shipper.interval_s == interval


def test_a_graceful_stop_snapshots_what_changed_since_the_last_snapshot_whatever_the_interval(
    make_worker, topic
):
    owner, clock = make_worker("owner", interval_s=60)
    asyncio.run(Consumer(owner, {DEALS0}, {}).seek_to_committed())  # assigned partition 0
    deals = owner.table("deals", 0)
    deals["deal-1"] = {"events": []}
    commit(owner, {DEALS0: 1})  # the first snapshot, then none for 60 s
    deals["deal-2"] = {"events": []}
    clock.now = 5

    async def last_commit_then_stop() -> None:
        await Consumer(owner, {DEALS0}, {})._commit({DEALS0: 2})
        assert owner.snapshots.counters.written == 1, "the interval holds back the commit's"
        await owner.stop()

    asyncio.run(last_commit_then_stop())
    assert owner.snapshots.counters.written == 2
    fresh, _ = make_worker("fresh", url="memory://")
    resumed = asyncio.run(Consumer(fresh, {DEALS0}, {DEALS0: 2}).seek_to_committed())
    assert resumed == {DEALS0: 2}, "nothing left to replay"
    assert set(fresh.table("deals", 0)) == {"deal-1", "deal-2"}


def test_a_partition_lost_in_a_rebalance_gets_no_final_snapshot_from_its_old_owner(
    make_worker, topic
):
    old, _ = make_worker("old", interval_s=60)
    asyncio.run(Consumer(old, {DEALS0, DEALS1}, {}).seek_to_committed())
    old.table("deals", 0)["deal-1"] = {"events": []}
    old.table("deals", 1)["deal-2"] = {"events": []}
    commit(old, {DEALS0: 1, DEALS1: 1})
    old.table("deals", 0)["deal-3"] = {"events": []}
    old.table("deals", 1)["deal-4"] = {"events": []}
    commit(old, {DEALS0: 2, DEALS1: 2})  # inside the interval: no snapshot yet
    sent = {p: len(topic.of(p).log) for p in (0, 1)}
    asyncio.run(Consumer(old, {DEALS1}, {}).seek_to_committed())  # partition 0 went elsewhere
    asyncio.run(old.stop())
    assert len(topic.of(0).log) == sent[0], "the new owner's chain of partition 0 is left alone"
    assert len(topic.of(1).log) > sent[1], "partition 1, still owned, gets its final snapshot"


class BrokenTopic(StateTopicPartitions):
    async def read_partitions(self, partitions: list[int]) -> AsyncIterator[tuple[int, list]]:
        raise ConnectionError("state topic unreadable")
        yield  # an async generator, as the Kafka one


def test_a_restore_that_fails_leaves_the_partition_to_replay_from_the_start(tmp_path):
    engine = StateEngine("memory://", tmp_path, KPI)
    engine.snapshots = SnapshotShipper(BrokenTopic(), 60)
    resumed = asyncio.run(Consumer(engine, {DEALS0, KPI0}, {DEALS0: 9}).seek_to_committed())
    assert resumed == {DEALS0: 0, KPI0: 0}
    assert engine.snapshots.counters.restore_failures == 1
    engine.close()


class TopicLostAfterOnePartition(StateTopicPartitions):
    """Reads the first partition asked, then the broker goes away."""

    def __init__(self, shared: StateTopicPartitions) -> None:
        super().__init__()
        self.partitions = shared.partitions

    async def read_partitions(self, partitions: list[int]) -> AsyncIterator[tuple[int, list]]:
        yield partitions[0], list(self.of(partitions[0]).read())
        raise ConnectionError("state topic unreachable")


def test_partitions_are_restored_one_after_the_other_and_those_not_read_replay(
    make_worker, topic, tmp_path
):
    owner, _ = make_worker("owner", interval_s=0)
    owner.table("deals", 0)["deal-1"] = {"events": [["e1", 7, 3, "deal.created", {}]]}
    owner.table("deals", 1)["deal-2"] = {"events": [["e2", 8, 4, "deal.created", {}]]}
    commit(owner, {DEALS0: 4, DEALS1: 5})

    fresh = StateEngine("memory://", tmp_path / "fresh", KPI)
    fresh.snapshots = SnapshotShipper(TopicLostAfterOnePartition(topic), 60)
    resumed = asyncio.run(Consumer(fresh, {DEALS0, DEALS1}, {}).seek_to_committed())

    assert resumed == {DEALS0: 4, DEALS1: 0}, "partition 1 was never read: it replays"
    assert "deal-1" in fresh.table("deals", 0)
    assert "deal-2" not in fresh.table("deals", 1)
    counters = fresh.snapshots.counters
    assert (counters.restored, counters.restore_failures) == (1, 1)
    fresh.close()
