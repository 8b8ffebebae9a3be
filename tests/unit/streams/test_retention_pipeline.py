"""Retention by stream time through the agents' handlers (contract section 3, design §8).

Every test runs the real pipeline handlers end to end (``tests.support.retention_loop``) over
dict state and over a real ``StateEngine``, and compares the KPIs of windows inside retention
with ``projections.recompute`` over the whole history.
"""

from datetime import UTC, datetime, timedelta

import pytest

from streams.retention import APPLY_CLOCK_KEY, SEEN_CLOCK_KEY, read_clock, utc_day
from streams.state.engine import StateEngine
from tests.support.factories import call, cost, created, store_of, us, won
from tests.support.retention_loop import PipelineLoop

START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
PARTITIONS = 4


def at(days: float) -> str:
    return (START + timedelta(days=days)).isoformat().replace("+00:00", "Z")


def daily_calls(first: int, last: int, rep_id: str = "rep-busy") -> list[dict]:
    return [call(at(day), rep_id=rep_id, team_id="team-1") for day in range(first, last + 1)]


@pytest.fixture(params=["dicts", "engine"])
def loop(request, tmp_path):
    """A pipeline loop over dict state, or over a real engine (rocksdb in tmp_path)."""
    if request.param == "dicts":
        yield PipelineLoop(PARTITIONS)
        return
    engine = StateEngine("rocksdb://", tmp_path, "kpi-deltas")
    yield PipelineLoop(PARTITIONS, state=engine)
    engine.close()


def stored_days(loop: PipelineLoop) -> list[tuple[str, int]]:
    return [key for p in range(PARTITIONS) for key in loop.state.days(p)]


async def test_a_deal_created_200_days_before_stream_time_and_still_open_counts_in_the_stocks(
    loop,
):
    events = [
        created("d-old", at(0), amount=1000, probability=0.5, event_id="e-old"),
        created("d-won", at(1), amount=300, event_id="e-won-c"),
        won("d-won", at(2), event_id="e-won"),
        *daily_calls(0, 200),
    ]
    await loop.feed(events, batch_size=20)
    now = START + timedelta(days=200)
    assert loop.differences(store_of(events), [now]) == []
    company = loop.report("company|", now)["30d"]
    assert (company["open_deals"], company["open_pipeline"]) == (1, 1000)
    assert min(day for _, day in stored_days(loop)) >= utc_day(us(at(200))) - 100


async def test_day_values_older_than_the_horizon_are_deleted_and_the_rest_kept(loop):
    events = daily_calls(0, 250) + daily_calls(0, 250, rep_id="rep-two")
    await loop.feed(events, batch_size=30)
    horizon = utc_day(us(at(250))) - 100
    days = stored_days(loop)
    assert min(day for _, day in days) == horizon
    assert {day for _, day in days} == set(range(horizon, horizon + 101))
    now = START + timedelta(days=250)
    assert loop.differences(store_of(events), [now, now - timedelta(days=60)]) == []


async def test_a_late_correction_beyond_the_horizon_adds_no_day_value_but_reaches_the_stocks(
    loop,
):
    history = daily_calls(0, 300)
    late = [created("d-late", at(10), amount=70, rep_id="rep-late", event_id="e-late")]
    await loop.feed(history + late, batch_size=40)
    assert [key for key in stored_days(loop) if key[0] == "rep|rep-late"] == []
    now = START + timedelta(days=300)
    rep = loop.report("rep|rep-late", now)["7d"]
    assert (rep["open_deals"], rep["open_pipeline"], rep["opportunities"]) == (1, 70, 0)
    assert loop.differences(store_of(history + late), [now]) == []


async def test_the_apply_agents_stream_time_is_the_max_of_what_the_messages_carried(loop):
    await loop.feed(daily_calls(30, 30) + daily_calls(10, 10, rep_id="rep-2"), batch_size=1)
    clocks = [read_clock(loop.state.table("day_ix", p), APPLY_CLOCK_KEY) for p in range(4)]
    times = {clock.stream_us for clock in clocks if clock.stream_us is not None}
    assert times == {us(at(30))}
    assert {clock.horizon for clock in clocks if clock.horizon is not None} == {
        utc_day(us(at(30))) - 100
    }


async def test_a_duplicate_of_a_forgotten_call_id_counts_only_in_a_pruned_day_so_nowhere(loop):
    first = call(at(0), rep_id="rep-1", team_id="team-1", event_id="e-first")
    events = [first, *daily_calls(1, 200, rep_id="rep-1"), dict(first)]
    await loop.feed(events, batch_size=25)
    seen_keys = [key for p in range(PARTITIONS) for key in loop.state.table("seen", p)]
    assert not [key for key in seen_keys if "e-first" in key]
    assert not [key for key in stored_days(loop) if key[1] == utc_day(us(at(0)))]
    now = START + timedelta(days=200)
    assert loop.differences(store_of(events), [now]) == []


async def test_seen_ids_are_kept_only_for_the_days_inside_retention(loop):
    events = daily_calls(0, 250) + [cost(at(day), team_id="team-1") for day in range(0, 251, 5)]
    await loop.feed(events, batch_size=30)
    horizon = utc_day(us(at(250))) - 100
    remembered = [
        value
        for p in range(PARTITIONS)
        for key, value in loop.state.table("seen", p).items()
        if key.startswith("[")
    ]
    assert remembered and all(day >= horizon for _, day in remembered)
    first_kept = horizon - utc_day(us(at(0)))
    kept_costs = [day for day in range(0, 251, 5) if day >= first_kept]
    assert len(remembered) == 101 + len(kept_costs)
    clocks = [read_clock(loop.state.table("seen", p), SEEN_CLOCK_KEY) for p in range(4)]
    assert {c.pruned_below for c in clocks if c.stream_us is not None} == {horizon}


async def test_a_key_left_with_nothing_to_report_stops_being_listed_unless_a_deal_is_open(loop):
    events = [
        *daily_calls(0, 5, rep_id="rep-gone"),
        created("d-open", at(1), rep_id="rep-open", event_id="e-open"),
        *daily_calls(0, 200),
    ]
    await loop.feed(events, batch_size=10)
    assert "rep|rep-gone" not in loop.live_keys()
    assert {"rep|rep-open", "rep|rep-busy"} <= loop.live_keys()
