"""The fold microbench (``bench.fold``) on tiny workloads: every stage runs, the result is exact.

No timing is asserted: these tests only prove that the benchmark drives the agents' code path end
to end and that its exactness check would notice wrong buckets.
"""

from __future__ import annotations

import pytest

from bench.fold import END, PARTITIONS, check_exact, event_records, figures, profile_top, run_fold
from bench.fold_agents import STAGES, InProcessWorker, StageClock
from bench.workload import Shape, history
from events.models import EventPolicy
from events.topics import TopicNames
from projections.timebase import BucketGrid
from streams.kpi_apply import PythonApply

SMALL = Shape(reps=20, teams=4, customers=50, days=10)
WORKLOADS = [
    pytest.param(300, SMALL, id="300 events, 20 reps"),
    pytest.param(900, Shape(reps=6, teams=2, customers=15, days=20), id="900 events, 6 reps"),
]


@pytest.mark.parametrize(("events", "shape"), WORKLOADS)
def test_the_fold_bench_matches_recompute_on_every_sampled_key(events, shape):
    result = run_fold(events, shape, sample=40)

    assert result.events >= events
    assert result.invalid == 0
    assert result.keys_checked > 0
    assert result.problems == []
    assert result.keys_differing == 0


@pytest.mark.parametrize(("events", "shape"), WORKLOADS)
def test_every_stage_of_the_fold_bench_reports_what_it_processed(events, shape):
    result = run_fold(events, shape, sample=5)

    assert {stage: count > 0 for stage, count in result.clock.counts.items()} == dict.fromkeys(
        STAGES, True
    )
    assert result.clock.counts["decode+validate"] == result.events
    rows = {figure.name: figure for figure in figures(result)}
    assert set(STAGES) <= set(rows)
    assert rows["exact vs recompute (sampled keys)"].met is True


@pytest.mark.parametrize("sample", [1, 10])
def test_the_exactness_check_notices_a_worker_that_folded_nothing(sample):
    names = TopicNames("bench-fold")
    topics = event_records(history(300, END, SMALL), names)
    records = [record for topic in topics.values() for record in topic.records]
    policy = EventPolicy(clock=lambda: END)
    grid, clock = BucketGrid("UTC"), StageClock()
    idle = InProcessWorker(names, PARTITIONS, grid, policy, clock, 2000, PythonApply())

    checked, differing, problems = check_exact(idle, records, policy, sample)

    assert checked == differing == sample
    assert len(problems) == sample


@pytest.mark.parametrize("function", ["fold_deal_batch", "apply_day_batch"])
def test_the_profile_of_the_fold_stages_names_the_folds(function):
    assert function in profile_top(300, SMALL)
