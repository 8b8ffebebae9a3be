"""A worker is stuck when it stays unready without recovery progress for too long."""

from __future__ import annotations

import pytest

from streams.liveness import Liveness


def watched(samples: list[tuple[float, bool, int | None]], stuck_after_s: float = 60) -> Liveness:
    liveness = Liveness(stuck_after_s)
    for now, ready, remaining in samples:
        liveness.observe(now, ready, remaining)
    return liveness


@pytest.mark.parametrize(
    ("samples", "now", "stuck"),
    [
        ([(0, True, 0), (100, True, 0)], 200, False),
        ([(0, False, 500), (59, False, 500)], 59, False),
        ([(0, False, 500), (30, False, 500)], 60, True),
        ([(0, False, 500), (50, False, 400), (100, False, 300)], 120, False),
        ([(0, False, 500), (50, False, 400)], 110, True),
        ([(0, False, 500), (70, True, 0), (71, False, 0)], 100, False),
        ([(0, False, None), (61, False, None)], 61, True),
    ],
    ids=[
        "ready all along",
        "unready for less than the limit",
        "unready without progress past the limit",
        "replay still making progress",
        "replay stopped making progress",
        "ready again in between",
        "stuck before the replay even started",
    ],
)
def test_a_worker_is_stuck_only_when_unready_without_progress_past_the_limit(samples, now, stuck):
    assert watched(samples).is_stuck(now) is stuck


def test_a_zero_limit_never_reports_a_worker_stuck():
    assert watched([(0, False, 5)], stuck_after_s=0).is_stuck(10_000) is False


def test_stuck_for_counts_from_the_last_progress():
    assert watched([(0, False, 9), (40, False, 8), (41, False, 8)]).stuck_for(100) == 60
