"""Scenario 7: a worker on a persistent state store (``SALESPULSE_TABLE_STORE=rocksdb://``) after a
long history. Restarted, planned (SIGTERM) and then crashed (SIGKILL) while folding more events,
it resumes from its checkpoints without replaying its input from the start, and every KPI is exact.

How much was replayed is read from the state engine's resume line in the worker's log (records
between each partition's checkpoint and the group's committed offset); the time to ready runs
from the process start until it answers /readyz owning every partition."""

from __future__ import annotations

import random
import time

import pytest

from tests.chaos.audit import settled_audit
from tests.chaos.feed import Feeder, post_events
from tests.chaos.history import CHAOS_AS_OF, company_history, size_history, validated
from tests.chaos.observe import replay_since, settle, wait_owning

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

MOST_REPLAYED = 0.10
"""A restart may re-read at most this share of the committed input ("not everything")."""


def test_a_worker_on_rocksdb_is_ready_after_restarts_without_replaying_its_whole_history(
    chaos_stack, size
):
    rng = random.Random(707)
    history = size_history(size(2_000, 50_000), seed=707)
    tail = company_history(0, days=size(4, 30), seed=7070)
    stack = chaos_stack(workers=1, table_store="rocksdb://")
    worker = stack.workers[0]

    started = time.monotonic()
    first = post_events(stack.ingest.url, history, batch=1000)
    built = settle(stack, timeout_s=size(120, 400))
    assert built.quiet, built.describe()
    history_s = time.monotonic() - started

    # Planned restart: SIGTERM, then the same data directory.
    log_from = worker.log_path.stat().st_size
    worker.stop()
    restarted_at = time.monotonic()
    worker = stack.restart_worker(worker, wait=False)
    planned_ready_s = wait_owning(worker.url, stack.partitions, 180)
    planned_ready_s = None if planned_ready_s is None else time.monotonic() - restarted_at
    planned = replay_since(worker.log_path, log_from)
    planned_settled = settle(stack, timeout_s=60)
    after_planned = settled_audit(
        "7 rocksdb: planned restart",
        worker.url,
        validated(first.accepted),
        CHAOS_AS_OF,
        facts={
            "history_fold_s": round(history_s, 1),
            "ready_s": None if planned_ready_s is None else round(planned_ready_s, 1),
            "replayed": planned.replayed,
            "committed_records": planned.committed,
        },
    )

    # Crash: SIGKILL while a further stream is being folded, restart on the same data directory.
    feeder = Feeder(stack.ingest.url, tail, seconds=size(4.0, 15.0))
    feeder.start()
    time.sleep(rng.uniform(1.0, 3.0))
    log_from = worker.log_path.stat().st_size
    worker.kill()
    restarted_at = time.monotonic()
    worker = stack.restart_worker(worker, wait=False)
    crash_ready_s = wait_owning(worker.url, stack.partitions, 180)
    crash_ready_s = None if crash_ready_s is None else time.monotonic() - restarted_at
    crashed = replay_since(worker.log_path, log_from)
    tail_log = feeder.finish(timeout_s=120)
    crash_settled = settle(stack, timeout_s=size(120, 300))
    after_crash = settled_audit(
        "7 rocksdb: crash restart",
        worker.url,
        validated(first.accepted + tail_log.accepted),
        CHAOS_AS_OF,
        facts={
            "ready_s": None if crash_ready_s is None else round(crash_ready_s, 1),
            "replayed": crashed.replayed,
            "committed_records": crashed.committed,
        },
    )

    assert planned_ready_s is not None, "not ready after the planned restart"
    assert planned.recoveries >= 1, "no state resume found in the worker log"
    assert planned.replayed <= MOST_REPLAYED * planned.committed, after_planned.summary()
    assert planned_settled.quiet, planned_settled.describe()
    assert after_planned.exact, after_planned.summary()
    assert crash_ready_s is not None, "not ready after the crash"
    assert crashed.replayed <= MOST_REPLAYED * crashed.committed, after_crash.summary()
    assert crash_settled.quiet, crash_settled.describe()
    assert (after_crash.lost, after_crash.double_counted) == (0, 0), after_crash.summary()
    assert after_crash.exact, after_crash.summary()
