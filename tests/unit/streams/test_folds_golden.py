"""The golden log through the batch folds: equal to ``recompute`` and to ``golden/expected.json``.

Contract section 8: expected KPIs at as_of 2026-02-14T15:20:00Z (UTC), floats compared with a
relative tolerance of 1e-9, and a ratio absent in the expectation must be absent here too.
"""

import math
import random

import pytest

from projections.recompute import recompute
from projections.timebase import BucketGrid
from tests.support.factories import (
    GOLDEN_AS_OF,
    UTC_GRID,
    FoldTables,
    bucket_table_of,
    golden_events,
    golden_expected,
    golden_objects,
)
from tests.support.kpis import vocabulary

ALL = len(golden_events())


def differences(got: dict[str, dict], expected: dict[str, dict]) -> list[str]:
    """Every mismatch as a sentence; empty when equal within the contract's tolerance. Only the
    KPIs the expectation speaks of are compared (``tests.support.kpis.vocabulary``)."""
    names = vocabulary(expected)
    got = {key: {n: v for n, v in kpis.items() if n in names} for key, kpis in got.items()}
    problems = [f"{key}: missing" for key in sorted(set(expected) - set(got))]
    problems += [f"{key}: unexpected" for key in sorted(set(got) - set(expected))]
    for key in sorted(set(got) & set(expected)):
        names = set(got[key]) | set(expected[key])
        for name in sorted(names):
            if name not in got[key] or name not in expected[key]:
                problems.append(
                    f"{key} {name}: got {got[key].get(name)}, expected {expected[key].get(name)}"
                )
            elif not math.isclose(got[key][name], expected[key][name], rel_tol=1e-9):
                problems.append(f"{key} {name}: {got[key][name]} != {expected[key][name]}")
    return problems


@pytest.fixture(scope="module")
def reference():
    return recompute(golden_events(), UTC_GRID)


def test_the_golden_log_has_the_expected_number_of_invalid_lines():
    expected = golden_expected()
    assert expected["as_of"] == "2026-02-14T15:20:00Z"
    assert len(golden_objects()) - ALL == expected["skipped_invalid"] == 8


def test_recompute_equals_the_golden_expectation(reference):
    assert differences(reference.report_all(GOLDEN_AS_OF), golden_expected()["kpis"]) == []


@pytest.mark.parametrize("batch_size", [1, 7, 100, ALL])
def test_the_folds_leave_the_buckets_of_recompute_whatever_the_batch_size(reference, batch_size):
    tables = FoldTables().feed_all(golden_events(), batch_size)
    assert tables.buckets == bucket_table_of(reference)
    assert set(tables.live_keys) == reference.keys()


@pytest.mark.parametrize("batch_size", [1, 7, ALL])
def test_the_folds_report_the_golden_expectation(batch_size):
    tables = FoldTables().feed_all(golden_events(), batch_size)
    assert differences(tables.report_all(GOLDEN_AS_OF), golden_expected()["kpis"]) == []


def test_every_batch_size_gives_identical_tables():
    runs = [FoldTables().feed_all(golden_events(), size) for size in (1, 7, 13, ALL)]
    first = runs[0]
    for run in runs[1:]:
        assert (run.buckets, run.live_keys, run.customers, run.seen) == (
            first.buckets,
            first.live_keys,
            first.customers,
            first.seen,
        )


@pytest.mark.parametrize("seed", range(6))
def test_any_arrival_order_and_batching_of_the_golden_log_gives_the_same_kpis(reference, seed):
    # The golden log has no two events of one deal at the same instant and every duplicate is
    # an exact copy, so arrival order cannot matter (contract section 2).
    rng = random.Random(seed)
    shuffled = list(golden_events())
    rng.shuffle(shuffled)
    tables = FoldTables().feed_all(shuffled, rng.choice([1, 7, 50, ALL]))
    assert tables.buckets == bucket_table_of(reference)
    assert tables.buckets == bucket_table_of(recompute(shuffled, UTC_GRID))
    assert differences(tables.report_all(GOLDEN_AS_OF), golden_expected()["kpis"]) == []


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata"])
def test_in_another_zone_only_the_calendar_windows_differ_from_utc(zone, reference):
    tables = FoldTables(grid=BucketGrid(zone)).feed_all(golden_events(), 7)
    assert tables.buckets == bucket_table_of(recompute(golden_events(), BucketGrid(zone)))
    zoned, utc = tables.report_all(GOLDEN_AS_OF), reference.report_all(GOLDEN_AS_OF)
    assert set(zoned) == set(utc)
    rolling = [key for key in utc if key.rsplit("|", 1)[1] not in ("mtd", "qtd")]
    assert differences({k: zoned[k] for k in rolling}, {k: utc[k] for k in rolling}) == []
