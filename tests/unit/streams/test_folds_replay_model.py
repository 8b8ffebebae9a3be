"""Model test of the state engine v2 invariants (docs/design/state-engine-v2.md, section 7).

Today's pure folds driven by a model worker (``tests.support.replay_model``): random event streams
(duplicates, disorder, reopen, re-assignment, calls, costs) on 2-4 partitions, random schedules of
batches, flushes, checkpoints, spills and crashes that restore any durable state of the agent's
own (latest, older, ahead of its offsets, the empty one of a fresh host), then a drain. At quiet
every KPI equals a recompute (I1, I2), every message sent equals its first sending and what a
run without crashes sends (I3), and no correction was applied twice (I4). I5 (retention) has
nothing to act on yet: today's folds keep everything. The engine that replaces Faust tables
must keep passing this; the violation tests show the model has teeth.
"""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.timebase import BucketGrid
from tests.support.apply_engines import ENGINES, kpi_apply_named
from tests.support.factories import call, cost, created, event_streams, store_of, validated, won
from tests.support.replay_audit import (
    apply_differences,
    calm_differences,
    kpi_differences,
    resend_differences,
    sent_corrections,
)
from tests.support.replay_model import AGENTS, Step, Worker
from tests.support.replay_schedules import schedules

START = datetime(2026, 3, 31, 21, 0, tzinfo=UTC)  # spans a month, quarter and day end
INSTANTS = [(START + timedelta(minutes=25 * i)).isoformat() for i in range(12)]
AS_OFS = [
    datetime(2026, 3, 31, 23, 40, tzinfo=UTC),
    datetime(2026, 4, 1, 0, 30, tzinfo=UTC),
    datetime(2026, 4, 20, 12, 0, tzinfo=UTC),
]
SCHEDULES = schedules(min_rounds=1, max_rounds=12)
ALL, ONE, LATEST = (9, 9, 9, 9), (1, 1, 1, 1), (0, 0, 0, 0)
FIXED_STREAM = [
    created("d-1", "2026-03-31T21:00:00Z", customer_id="c-1", rep_id="r-1", event_id="e-1"),
    created("d-2", "2026-03-31T21:30:00Z", customer_id="c-1", rep_id="r-2", event_id="e-2"),
    call("2026-03-31T22:10:00Z", rep_id="r-1", event_id="e-5"),
    cost("2026-03-31T22:40:00Z", team_id="team-1", event_id="e-8"),
    call("2026-03-31T22:20:00Z", rep_id="r-2", event_id="e-6"),
    cost("2026-03-31T22:50:00Z", event_id="e-9"),
    cost("2026-03-31T23:05:00Z", team_id="team-1", event_id="e-10"),
    won("d-1", "2026-03-31T22:00:00Z", event_id="e-3"),
    won("d-2", "2026-03-31T21:45:00Z", event_id="e-4"),
    call("2026-03-31T22:10:00Z", rep_id="r-1", event_id="e-5"),
    cost("2026-03-31T22:40:00Z", team_id="team-1", event_id="e-8"),
    won("d-1", "2026-03-31T22:00:00Z", event_id="e-3"),
]
"""Two deals won by one customer, calls and costs of two partitions, three redeliveries."""


def quiet_worker(
    stream: list[dict], partitions: int, zone: str, schedule: list[Step], engine: str = "python"
) -> Worker:
    worker = Worker(validated(stream), partitions, BucketGrid(zone), None, kpi_apply_named(engine))
    return worker.run(schedule).drain()


def all_differences(worker: Worker, stream: list[dict], zone: str) -> list[str]:
    calm = quiet_worker(stream, worker.partitions, zone, [])
    return (
        kpi_differences(worker, store_of(stream, zone), AS_OFS)
        + resend_differences(worker)
        + calm_differences(worker, calm)
        + apply_differences(worker)
    )


def upstream_of(agent: str) -> list[Step]:
    """Every agent before ``agent`` folds all its input and checkpoints (outputs delivered).

    One record per partition and batch, so that batched outputs (customer-wins carries a whole
    batch's win changes per partition) still give ``agent`` several input records to replay.
    """
    steps = []
    for name in AGENTS[: AGENTS.index(agent)]:
        steps += [Step("batch", name, 0, ONE)] * len(FIXED_STREAM) + [Step("checkpoint", name)]
    return steps


@settings(max_examples=150, deadline=None, database=None)
@given(
    stream=event_streams(INSTANTS),
    partitions=st.integers(min_value=2, max_value=4),
    zone=st.sampled_from(["UTC", "Asia/Kolkata"]),
    schedule=SCHEDULES,
)
@pytest.mark.parametrize("engine", ENGINES)
def test_any_schedule_of_crashes_and_restores_leaves_the_kpis_of_a_recompute(
    engine, stream, partitions, zone, schedule
):
    worker = quiet_worker(stream, partitions, zone, schedule, engine)
    assert all_differences(worker, stream, zone) == []


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize(
    ("restored", "moves"),
    [
        pytest.param("checkpoint", [("checkpoint", 0, LATEST), ("crash", 99, ONE)], id="older"),
        pytest.param("spill", [("spill", 0, (255,) * 4), ("crash", 99, LATEST)], id="ahead"),
    ],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_an_agent_restored_behind_its_progress_replays_into_the_kpis_of_a_recompute(
    engine, agent, restored, moves
):
    schedule = upstream_of(agent) + [
        Step("batch", agent, 0, ONE),
        Step("checkpoint", agent),
        Step("batch", agent, 9, ALL),
        *(Step(action, agent, size, picks) for action, size, picks in moves),
    ]
    worker = quiet_worker(FIXED_STREAM, 2, "UTC", schedule, engine)
    assert f"restored {restored}" in [image.kind for image in worker.agents[agent].history[0]]
    assert all_differences(worker, FIXED_STREAM, "UTC") == []
    sent = sent_corrections(worker)
    resent = len(sent) - len({origin for origin, _ in sent})
    assert resent > 0 if agent != "apply-kpis" else resent == 0


@pytest.mark.parametrize("agent", AGENTS[:4])
@pytest.mark.parametrize(
    ("checkpoint", "exact"), [("checkpoint", True), ("unflushed-checkpoint", False)]
)
def test_a_checkpoint_recorded_before_its_outputs_were_sent_loses_corrections(
    agent, checkpoint, exact
):
    schedule = upstream_of(agent) + [
        Step("batch", agent, 9, ALL),
        Step(checkpoint, agent),
        Step("crash", agent, 0, LATEST),
    ]
    worker = quiet_worker(FIXED_STREAM, 2, "UTC", schedule)
    differences = kpi_differences(worker, store_of(FIXED_STREAM, "UTC"), AS_OFS)
    assert (differences == []) is exact


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize(
    ("checkpoint", "exact"), [("checkpoint", True), ("behind-checkpoint", False)]
)
def test_a_state_behind_its_offsets_loses_or_doubles_corrections(agent, checkpoint, exact):
    schedule = upstream_of(agent) + [
        Step("batch", agent, 0, ONE),
        Step("flush", agent, 99),
        Step(checkpoint, agent),
        Step("crash", agent, 0, LATEST),
    ]
    worker = quiet_worker(FIXED_STREAM, 2, "UTC", schedule)
    differences = kpi_differences(worker, store_of(FIXED_STREAM, "UTC"), AS_OFS)
    assert (differences == []) is exact
