"""A commit checkpoints the state before the Kafka commit; a seek resumes from the checkpoint.

The consumer below is ``CheckpointedOffsets`` over a fake of Faust's aiokafka consumer (its
``_commit``, ``seek_to_committed`` and ``_seek`` hooks), with a real ``StateEngine`` on disk.
"""

from __future__ import annotations

import asyncio

import pytest
from faust.types import TP

from streams.state.engine import StateEngine
from tests.support.checkpoint_consumer import DEALS0, DEALS1, KPI, KPI0, KPI1, Consumer


@pytest.fixture
def make_engine(tmp_path):
    engines = []

    def make(url: str = "rocksdb://") -> StateEngine:
        engine = StateEngine(url, tmp_path, KPI)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def test_a_commit_writes_the_checkpoint_before_committing_to_kafka(make_engine):
    engine = make_engine()
    consumer = Consumer(engine, {DEALS0, KPI0}, {})
    engine.table("deals", 0)["deal-1"] = {"events": []}
    asyncio.run(consumer._commit({DEALS0: 7, KPI0: 3, DEALS1: 9}))
    checkpointed = {"deals": 7, KPI: 3}
    assert consumer.journal == [("kafka commit", {DEALS0: 7, KPI0: 3, DEALS1: 9}, checkpointed)]
    assert engine.store.offsets(1) == {}, "a partition not assigned here is not checkpointed"
    engine.close()
    assert make_engine().table("deals", 0)["deal-1"] == {"events": []}


def test_a_seek_resumes_each_partition_from_its_checkpoint_and_the_rest_from_their_start(
    make_engine,
):
    engine = make_engine()
    engine.store.checkpoint(0, {"deals": 40, KPI: 12})
    consumer = Consumer(engine, {DEALS0, KPI0, DEALS1, KPI1}, {DEALS0: 55, KPI0: 20, DEALS1: 8})
    resumed = asyncio.run(consumer.seek_to_committed())
    assert resumed == {DEALS0: 40, KPI0: 12, DEALS1: 0, KPI1: 0}
    assert consumer.seeks == resumed


def test_kpis_are_current_again_once_the_apply_agent_replayed_to_the_groups_offset(make_engine):
    engine = make_engine()
    engine.store.checkpoint(0, {KPI: 12})
    consumer = Consumer(engine, {KPI0, KPI1}, {KPI0: 20, KPI1: 5})
    asyncio.run(consumer.seek_to_committed())
    assert not engine.replayed({0, 1})
    engine.note_applied(1, 5)
    engine.note_applied(0, 19)
    assert not engine.replayed({0, 1})
    assert engine.replayed({1})
    engine.note_applied(0, 20)
    assert engine.replayed({0, 1})


def test_a_memory_store_forgets_every_checkpoint_at_start(make_engine):
    engine = make_engine()
    engine.table("seen", 2)['["rep-1","call-1"]'] = 5
    asyncio.run(Consumer(engine, {TP("calls", 2)}, {})._commit({TP("calls", 2): 6}))
    engine.close()
    fresh = make_engine("memory://")
    assert fresh.store.offsets(2) == {}
    assert '["rep-1","call-1"]' not in fresh.table("seen", 2)
