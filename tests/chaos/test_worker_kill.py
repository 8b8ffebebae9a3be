"""Scenario 1: the worker is killed with SIGKILL at random moments while it folds a stream, and
restarted each time on the same data directory; afterwards every KPI must be exact."""

from __future__ import annotations

import random
import time

import pytest

from tests.chaos.audit import settled_audit
from tests.chaos.feed import Feeder
from tests.chaos.history import CHAOS_AS_OF, size_history, validated
from tests.chaos.observe import settle, wait_owning

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]


def test_kpis_are_exact_after_the_worker_is_killed_at_random_moments_mid_stream(chaos_stack, size):
    seed = 101
    rng = random.Random(seed)
    events = size_history(size(5_000, 50_000), seed=seed)
    kills = size(2, 5)
    stack = chaos_stack(workers=1)
    worker = stack.workers[0]
    assert wait_owning(worker.url, stack.partitions, 60) is not None

    # The feed lasts about as long as the kills take, so that every kill lands mid-stream.
    feeder = Feeder(stack.ingest.url, events, seconds=kills * size(8.0, 14.0))
    started = time.monotonic()
    feeder.start()
    kill_log, back_after = [], []
    for _ in range(kills):
        # Strike while it folds: after it owns its partitions again, at a random moment.
        time.sleep(rng.uniform(0.3, 4.0))
        kill_log.append(f"{time.monotonic() - started:.1f}s/{len(feeder.log.accepted)}ev")
        worker.kill()
        restarted_at = time.monotonic()
        worker = stack.restart_worker(worker, wait=False)
        owning = wait_owning(worker.url, stack.partitions, 120)
        assert owning is not None, f"restarted, never owned its partitions:\n{worker.log_tail()}"
        back_after.append(round(time.monotonic() - restarted_at, 1))
    post_log = feeder.finish(timeout_s=300)
    fed_s = time.monotonic() - started

    settled = settle(stack, timeout_s=size(120, 300))
    result = settled_audit(
        f"1 worker kill -9 x{kills}",
        worker.url,
        validated(post_log.accepted),
        CHAOS_AS_OF,
        facts={
            "kills_at": ",".join(kill_log),
            "owning_again_s": back_after,
            "fed_s": round(fed_s, 1),
            "settled_s": round(settled.seconds, 1),
        },
    )

    assert settled.quiet, settled.describe()
    assert len(post_log.accepted) == len(events)
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
