"""The agents' tables over the state store: same folds, same values, durable per checkpoint.

``FoldTables`` (``tests.support.factories``) feeds the five folds batch by batch; here its tables
are the engine's ``StoredTable``s and ``LiveKeys`` of one partition instead of dicts, and the
values must be those of the dict run, before and after the store is closed and opened again.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily

from projections.day_values import apply_day_batch
from projections.state_types import HourTally
from projections.timebase import BucketGrid
from streams.state.engine import StateEngine
from streams.state.tables import decode_value, encode_value
from streams.telemetry import WorkerStatusCollector, WorkerTelemetry
from tests.support.factories import FoldTables, golden_events

KPI = "app.kpi-deltas"
HALF = len(golden_events()) // 2


@pytest.fixture
def open_engine(tmp_path):
    opened = []

    def open_() -> StateEngine:
        engine = StateEngine("rocksdb://", tmp_path, KPI)
        opened.append(engine)
        return engine

    yield open_
    for engine in opened:
        engine.close()


def stored_tables(engine: StateEngine, partition: int = 0) -> FoldTables:
    return FoldTables(
        deals=engine.table("deals", partition),
        customer_rows=engine.table("customers", partition),
        seen=engine.table("seen", partition),
        key_rows=engine.live_keys(partition),
    )


def contents(tables: FoldTables) -> dict:
    """What the engine stores of a fold run: the apply agent's buckets are day values there
    (``test_day_values_written_through_the_engine_read_back_after_a_restart``)."""
    return {
        name: dict(getattr(tables, name)) for name in ("deals", "customer_rows", "seen", "key_rows")
    }


@pytest.mark.parametrize(
    "value",
    [
        {"events": [["e-1", 1_770_000_000_000_000, 3, "won", {"amount": 12}]]},
        [[1, 2], {"company|": 5}],
        2**64 + 1,
        {"d-1": [[2**70, 3, None]]},
        "text with \x00 and é",
    ],
    ids=["deal", "bucket", "past-64-bits", "nested-past-64-bits", "text"],
)
def test_every_table_value_reads_back_as_written_huge_integers_included(value):
    assert decode_value(encode_value(value)) == value


def test_the_golden_log_folded_into_stored_tables_gives_the_values_of_dict_tables(open_engine):
    expected = contents(FoldTables().feed_all(golden_events(), 50))
    engine = open_engine()
    assert contents(stored_tables(engine).feed_all(golden_events(), 50)) == expected
    engine.store.checkpoint(0, {"deals": len(golden_events())})
    engine.close()
    assert contents(stored_tables(open_engine())) == expected


def test_changes_after_the_last_checkpoint_are_gone_after_a_restart(open_engine):
    events = golden_events()
    at_checkpoint = contents(FoldTables().feed_all(events[:HALF], 50))
    engine = open_engine()
    tables = stored_tables(engine).feed_all(events[:HALF], 50)
    engine.store.checkpoint(0, {"deals": HALF})
    tables.feed_all(events[HALF:], 50)
    engine.close()  # a kill: what was not checkpointed is not in the store
    reopened = open_engine()
    assert reopened.store.offsets(0) == {"deals": HALF}
    assert contents(stored_tables(reopened)) == at_checkpoint


def test_a_partitions_live_keys_are_its_own_and_survive_a_restart(open_engine):
    engine = open_engine()
    engine.live_keys(1)["rep|rep-1"] = 1
    engine.live_keys(2)["team|team-1"] = 1
    engine.store.checkpoint(1, {KPI: 4})
    engine.store.checkpoint(2, {KPI: 9})
    engine.close()
    reopened = open_engine()
    assert (set(reopened.live_keys(1)), set(reopened.live_keys(2))) == (
        {"rep|rep-1"},
        {"team|team-1"},
    )
    assert "team|team-1" not in reopened.live_keys(1)


def test_day_values_written_through_the_engine_read_back_after_a_restart(open_engine):
    grid = BucketGrid("Asia/Kathmandu")
    corrections = [
        ("rep|rep-1", [(0, 5, 1000, HourTally(revenue=2**70, reps={"rep-1": 1}))]),
        ("rep|rep-1", [(1, 9, 1001, HourTally(calls=2)), (1, 9, 1100, HourTally(calls=1))]),
        ("company|", [(0, 5, 1000, HourTally(deals_won=1, customers={"c-1": 1}))]),
        ("rep|rep-1", [(0, 5, 1000, HourTally(revenue=1))]),  # a replay: ignored
    ]
    expected: dict = {}
    apply_day_batch(expected, corrections, grid)
    engine = open_engine()
    apply_day_batch(engine.days(3), corrections, grid)
    engine.store.checkpoint(3, {KPI: 4})
    engine.close()
    assert dict(open_engine().days(3)) == expected


def test_each_checkpoint_is_counted_with_its_time_on_the_workers_metrics(open_engine):
    engine = open_engine()
    engine.table("deals", 0)["deal-1"] = {"events": []}
    engine.checkpoint({TP("deals", 0): 3, TP(KPI, 0): 1})
    engine.checkpoint({TP("deals", 0): 4})
    registry = CollectorRegistry(auto_describe=False)
    app = SimpleNamespace(state_engine=engine, rebalancing_count=0, rebalancing=False)
    ownership = SimpleNamespace(is_recovered=lambda: True, owned_partitions=lambda: set())
    collector = WorkerStatusCollector(app, ownership, WorkerTelemetry(registry), 1)
    collector._consumer_lag = lambda: GaugeMetricFamily("lag", "no consumer in this test")
    samples = {s.name: s.value for m in collector.collect() for s in m.samples}
    assert samples["salespulse_checkpoints_total"] == 2
    assert samples["salespulse_checkpoint_seconds_total"] > 0
    assert engine.store.offsets(0) == {"deals": 4, KPI: 1}
