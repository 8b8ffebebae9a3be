"""Model test of retention (design state-engine-v2 §7 I5, §8) under crashes and replays.

The replay model (``tests.support.replay_model``) runs the five agents with retention on: stream
time rides on kpi-deltas, the apply agent drops and prunes day values beyond its horizon, the
activity folds forget old ids. Histories span ~260 days, longer than the 100 days kept, with
redeliveries arriving long after the first copy (their id may be forgotten by then). At quiet,
every KPI of every window inside retention equals ``projections.recompute`` over the whole
history, stocks included (deals created long before the horizon), whatever the crashes, and a
replay re-sends exactly what the first processing sent (I3).
"""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.timebase import BucketGrid
from tests.support.apply_engines import ENGINES, kpi_apply_named
from tests.support.factories import call, created, event_streams, store_of, validated
from tests.support.replay_audit import kpi_differences, resend_differences
from tests.support.replay_model import AGENTS, Step, Worker
from tests.support.replay_schedules import schedules

RETENTION_DAYS = 100
START = datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
DAYS = [0, 1, 40, 99, 100, 101, 160, 199, 200, 201, 230, 259, 260]
INSTANTS = [(START + timedelta(days=d, minutes=35 * i)).isoformat() for i, d in enumerate(DAYS)]


def as_ofs(stream: list[dict]) -> list[datetime]:
    """Instants whose six windows all start inside retention: at the latest event time and a
    little before it (qtd reaches 92 days back, a zone a few hours more)."""
    latest = max(datetime.fromisoformat(e["occurred_at"]) for e in stream)
    return [latest, latest - timedelta(days=3)]


SCHEDULES = schedules(min_rounds=0, max_rounds=10)


def quiet_worker(
    stream: list[dict], partitions: int, zone: str, schedule: list[Step], engine: str = "python"
) -> Worker:
    grid = BucketGrid(zone)
    worker = Worker(validated(stream), partitions, grid, RETENTION_DAYS, kpi_apply_named(engine))
    return worker.run(schedule).drain()


def differences(worker: Worker, stream: list[dict], zone: str) -> list[str]:
    expected = store_of(stream, zone)
    return kpi_differences(worker, expected, as_ofs(stream)) + resend_differences(worker)


@settings(max_examples=120, deadline=None, database=None)
@given(
    stream=event_streams(INSTANTS, max_size=40),
    partitions=st.integers(min_value=2, max_value=3),
    zone=st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]),
    schedule=SCHEDULES,
)
@pytest.mark.parametrize("engine", ENGINES)
def test_over_histories_longer_than_retention_any_crashes_leave_the_kpis_of_a_recompute(
    engine, stream, partitions, zone, schedule
):
    worker = quiet_worker(stream, partitions, zone, schedule, engine)
    assert differences(worker, stream, zone) == []


LONG_STREAM = [
    created("d-old", INSTANTS[0], amount=500, probability=0.25, event_id="e-old"),
    call(INSTANTS[1], rep_id="rep-1", event_id="e-call"),
    *[call(instant, rep_id="rep-1") for instant in INSTANTS[2:]],
    call(INSTANTS[1], rep_id="rep-1", event_id="e-call"),
    created("d-late", INSTANTS[3], rep_id="rep-2", amount=40, event_id="e-late"),
]
"""A deal still open 260 days on, a call redelivered long after its id was forgotten, and a deal
created late for a day the apply agent no longer keeps."""


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize(
    "moves",
    [
        [("spill", 0, (255,) * 4), ("crash", 99, (0,) * 4)],
        [("checkpoint", 0, (0,) * 4), ("crash", 99, (1,) * 4)],
    ],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_an_agent_restored_behind_its_progress_keeps_retained_kpis_and_stocks_exact(
    engine, agent, moves
):
    schedule = [
        Step("batch", agent, 2, (1,) * 4),
        Step("checkpoint", agent),
        Step("batch", agent, 9, (9,) * 4),
        *(Step(action, agent, size, picks) for action, size, picks in moves),
    ]
    worker = quiet_worker(LONG_STREAM, 2, "UTC", schedule, engine)
    assert differences(worker, LONG_STREAM, "UTC") == []
    days = worker.agents["apply-kpis"].tables["days"]
    horizon = (START + timedelta(days=DAYS[-1])).date() - timedelta(days=RETENTION_DAYS)
    assert all(day >= (horizon - datetime(1970, 1, 1).date()).days for _, day in days)
    company = worker.agents["apply-kpis"].tables["stocks"]["company|"]
    assert (company.open_deals, company.open_amount) == (2, 540_000_000)
