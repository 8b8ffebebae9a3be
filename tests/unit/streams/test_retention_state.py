"""Retention's stored parts: the ``day_ix`` index of day values, the seen-id index, the clocks.

The index is what keeps pruning a range scan of the pruned days only, and the clocks are written
through the store, so they are part of the checkpoint batch and survive a restart.
"""

import orjson
import pytest

from projections.state_keys import day_bound
from projections.state_types import DayValue, HourTally
from streams.folds import IncomingCall, fold_activity_batch
from streams.retention import (
    APPLY_CLOCK_KEY,
    SEEN_CLOCK_KEY,
    SeenId,
    StreamClock,
    advance_clock,
    prune_seen,
    read_clock,
    seen_index_key,
)
from streams.routing import composite_key
from streams.state.engine import StateEngine
from tests.support.agent_fakes import RangeDict

DAY_US = 86_400 * 1_000_000


def value(calls: int = 1) -> DayValue:
    return DayValue(hours={3: HourTally(calls=calls)}, marks={1024: 7})


@pytest.fixture
def engine(tmp_path):
    engine = StateEngine("rocksdb://", tmp_path, "kpi-deltas")
    yield engine
    engine.close()


def index_days(engine: StateEngine, partition: int) -> list[int]:
    scan = engine.store.scan("day_ix", partition, b"", day_bound(1 << 30))
    return [int.from_bytes(key[:4], "big") - (1 << 31) for key, _ in scan]


def test_a_day_value_is_indexed_once_when_first_stored_and_unindexed_when_deleted(engine):
    days = engine.days(2)
    days["rep|a", 20_000] = value()
    days["rep|a", 20_000] = value(2)
    days["team|b", 19_990] = value()
    assert index_days(engine, 2) == [19_990, 20_000]
    del days["team|b", 19_990]
    assert index_days(engine, 2) == [20_000]
    assert index_days(engine, 3) == []


@pytest.mark.parametrize("lower", [None, 19_995])
def test_pruning_deletes_the_values_below_the_horizon_with_their_index_and_keeps_the_rest(
    engine, lower
):
    days = engine.days(1)
    for day in range(19_995, 20_010):
        for key in ("rep|a", "rep|b\x00c", "company|"):
            days[key, day] = value(day)
    pruned = days.prune_below(20_000, lower)
    assert sorted(pruned) == sorted(
        (k, d) for d in range(19_995, 20_000) for k in ("rep|a", "rep|b\x00c", "company|")
    )
    assert sorted({d for _, d in days}) == list(range(20_000, 20_010))
    assert set(index_days(engine, 1)) == set(range(20_000, 20_010))
    assert days["rep|a", 20_003] == value(20_003)


def test_pruning_survives_a_checkpoint_and_a_reopen_and_the_clock_with_it(tmp_path):
    engine = StateEngine("rocksdb://", tmp_path, "kpi-deltas")
    days = engine.days(0)
    for day in range(19_990, 20_010):
        days["rep|a", day] = value()
    clock = advance_clock(engine.table("day_ix", 0), APPLY_CLOCK_KEY, 20_100 * DAY_US, 100)
    days.prune_below(clock.horizon, clock.pruned_below)
    engine.store.checkpoint(0, {"kpi-deltas": 42})
    engine.close()
    reopened = StateEngine("rocksdb://", tmp_path, "kpi-deltas")
    assert read_clock(reopened.table("day_ix", 0), APPLY_CLOCK_KEY) == StreamClock(
        20_100 * DAY_US, 20_000, None
    )
    assert sorted(d for _, d in reopened.days(0)) == list(range(20_000, 20_010))
    assert index_days(reopened, 0) == list(range(20_000, 20_010))
    reopened.close()


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([5 * DAY_US, 3 * DAY_US, None], StreamClock(5 * DAY_US, -95, None)),
        ([None], StreamClock()),
        ([DAY_US, 200 * DAY_US], StreamClock(200 * DAY_US, 100, None)),
    ],
)
def test_a_clock_keeps_the_latest_stream_time_it_was_given(times, expected):
    table: dict = {}
    for stream_us in times:
        advance_clock(table, SEEN_CLOCK_KEY, stream_us, 100)
    assert read_clock(table, SEEN_CLOCK_KEY) == expected


def incoming(event_id: str, day: int, offset: int) -> IncomingCall:
    return IncomingCall("rep-1", event_id, day * DAY_US + 3_600_000_000, "rep-1", "t", offset, 0)


def test_a_seen_id_is_remembered_with_its_day_and_indexed_by_it():
    seen = RangeDict()
    fold_activity_batch(seen, [incoming("e-1", 20_000, 4)], horizon_day=19_950)
    key = composite_key("rep-1", "e-1")
    assert seen == {key: [4, 20_000], seen_index_key(20_000, key): 0}


@pytest.mark.parametrize(
    ("stored", "seen_id", "text"),
    [(3, SeenId(3), b"3"), ([3, 20_000], SeenId(3, 20_000), b"[3,20000]")],
)
def test_a_seen_id_reads_both_stored_forms_and_writes_each_back_to_its_bytes(stored, seen_id, text):
    assert SeenId.from_wire(stored) == seen_id
    assert orjson.dumps(seen_id.to_wire()) == text


@pytest.mark.parametrize("old_value", [3, [3, 20_000]])
def test_a_seen_id_stored_before_retention_or_after_is_still_a_duplicate(old_value):
    seen = RangeDict({composite_key("rep-1", "e-1"): old_value})
    corrections = fold_activity_batch(seen, [incoming("e-1", 20_000, 9)], horizon_day=19_950)
    assert corrections.is_empty()
    assert fold_activity_batch(seen, [incoming("e-1", 20_000, 3)], horizon_day=19_950).by_key


def test_an_event_beyond_the_horizon_is_sent_but_not_remembered():
    seen = RangeDict()
    corrections = fold_activity_batch(seen, [incoming("e-1", 19_000, 4)], horizon_day=19_950)
    assert corrections.by_key and seen == {}


def test_pruning_seen_ids_forgets_those_of_days_below_the_horizon_by_their_index():
    seen = RangeDict({composite_key("rep-0", "old"): 1})  # before retention: never pruned
    batch = [incoming(f"e-{day}", day, day) for day in range(19_990, 20_010)]
    fold_activity_batch(seen, batch, horizon_day=19_900)
    assert prune_seen(seen, 20_000, None) == 10
    kept = {key for key in seen if key.startswith("[")}
    assert kept == {composite_key("rep-0", "old")} | {
        composite_key("rep-1", f"e-{day}") for day in range(20_000, 20_010)
    }
    assert len(seen) == len(kept) + 10
