"""Golden v2 (contract section 8): every KPI of contract v2, segments and open deals included,
from the recomputation, from the folds batch by batch, and from the workers' own path (the five
agents on day values and stock totals, ``tests.support.replay_model``), also through crashes.

Only the golden v1 files leave v2's KPIs out; here all 23 names of every key are compared, with
the contract's relative tolerance, ratios absent exactly where the expectation has none.
"""

from __future__ import annotations

import json
import math

import pytest

from events.models import EventPolicy, validate_event
from projections import day_readout
from projections.day_values import HOURS_PER_DAY
from projections.recompute import recompute
from projections.timebase import BucketGrid
from projections.windows import WINDOWS
from tests.support.apply_engines import ENGINES, kpi_apply_named
from tests.support.factories import FoldTables
from tests.support.golden import GOLDEN_AS_OF, golden_v2_expected, golden_v2_lines
from tests.support.golden import is_invalid_golden_line as invalid
from tests.support.replay_model import AGENTS, Step, Worker

POLICY = EventPolicy(clock=lambda: GOLDEN_AS_OF)
UTC_GRID = BucketGrid("UTC")


def valid_objects() -> list[dict]:
    return [json.loads(line) for line in golden_v2_lines() if not invalid(line)]


def valid_events() -> list:
    return [validate_event(obj, POLICY) for obj in valid_objects()]


def differences(got: dict[str, dict], expected: dict[str, dict]) -> list[str]:
    problems = [f"{key}: missing" for key in sorted(set(expected) - set(got))]
    problems += [f"{key}: unexpected" for key in sorted(set(got) - set(expected))]
    for key in sorted(set(got) & set(expected)):
        for name in sorted(set(got[key]) | set(expected[key])):
            mine, theirs = got[key].get(name), expected[key].get(name)
            if mine is None or theirs is None or not math.isclose(mine, theirs, rel_tol=1e-9):
                problems.append(f"{key} {name}: {mine} != {theirs}")
    return problems


def worker_report(worker: Worker) -> dict[str, dict]:
    """What the worker's apply agent answers at as_of: day values and stock totals."""
    tables = worker.agents["apply-kpis"].tables
    days, stocks = tables["days"], tables["stocks"]

    def open_stock(key: str, end_hour: int):
        first = end_hour // HOURS_PER_DAY
        later = sorted((d, v) for (k, d), v in days.items() if k == key and d >= first)
        return day_readout.open_stock(stocks.get(key), later, end_hour)

    out = {}
    for key in sorted(tables["live_keys"]):
        report = day_readout.report(
            lambda k, d: days.get((k, d)), key, GOLDEN_AS_OF, UTC_GRID, open_stock
        )
        for window, kpis in (report or {}).items():
            out[f"{key}|{window}"] = kpis
    return out


def test_the_golden_v2_file_covers_every_v2_kpi_and_the_segment_scope():
    expected = golden_v2_expected()
    assert len(expected["kpis"]) == 198
    assert {key.split("|")[0] for key in expected["kpis"]} == {
        "rep",
        "team",
        "company",
        "channel",
        "segment",
    }
    names = {name for kpis in expected["kpis"].values() for name in kpis}
    assert {"open_deals", "weighted_pipeline", "time_to_win_seconds", "pipeline_created"} <= names
    assert len(valid_objects()) == len(golden_v2_lines()) - expected["skipped_invalid"]


def test_the_recomputation_gives_every_golden_v2_kpi():
    store = recompute(valid_events(), UTC_GRID)
    assert differences(store.report_all(GOLDEN_AS_OF), golden_v2_expected()["kpis"]) == []


@pytest.mark.parametrize("batch_size", [1, 97, 5000])
def test_the_folds_give_every_golden_v2_kpi_whatever_the_batch_size(batch_size):
    tables = FoldTables().feed_all(valid_events(), batch_size)
    assert differences(tables.report_all(GOLDEN_AS_OF), golden_v2_expected()["kpis"]) == []


CRASHES = [Step("batch", agent, 7, (3, 1, 4, 1)) for agent in AGENTS] + [
    Step("crash", agent, 0, (2, 7, 1, 8)) for agent in AGENTS
]
"""Each agent folds a few batches, then each crashes back to a durable state of its own."""


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("partitions", "schedule"), [(3, []), (4, CRASHES * 3)], ids=["calm", "crashes"]
)
def test_the_workers_day_values_give_every_golden_v2_kpi(engine, partitions, schedule):
    worker = Worker(valid_events(), partitions, UTC_GRID, None, kpi_apply_named(engine))
    worker = worker.run(schedule).drain()
    assert differences(worker_report(worker), golden_v2_expected()["kpis"]) == []
    assert {key.split("|")[2] for key in worker_report(worker)} == set(WINDOWS)
