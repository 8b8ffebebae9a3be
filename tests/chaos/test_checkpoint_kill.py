"""Scenario 1b: the worker is killed with SIGKILL inside a checkpoint, where an outside kill -9
lands only by luck (design state-engine-v2 §7), and restarted on the same data directory.

A worker on ``rocksdb://`` runs with the test-only setting ``SALESPULSE_FAULT_KILL_AT`` and
kills itself while a stream is folded: after the producer flush but before the checkpoint batch
(its outputs are on Kafka, the offsets not durable: the input is replayed over them), or after the
batch but before the Kafka commit (the local checkpoint is ahead of the group's offsets). It is
restarted without the fault, the stream ends, and every KPI must be exact.

The third point, ``in-spill``, is not reached here: a spill needs more than 20k changed values
between two commits (``StoreLimits.dirty_values``), which a worker did not reach on a 20k-event
backfill posted as fast as ingest takes it. tests/unit/streams/state/test_state_faults.py kills a
store there.
"""

from __future__ import annotations

import time

import pytest

from streams.state.faults import AFTER_CHECKPOINT_WRITE, BEFORE_CHECKPOINT_WRITE
from tests.chaos.audit import settled_audit
from tests.chaos.history import CHAOS_AS_OF, size_history, validated
from tests.chaos.observe import killed_mid_stream, settle, wait_owning

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

KILLED_AT_COMMIT = 3
"""The worker dies at its 3rd commit with new offsets: a few seconds into the stream (Faust
commits every 2.8 s), with checkpoints already behind it."""


@pytest.mark.parametrize("point", [BEFORE_CHECKPOINT_WRITE, AFTER_CHECKPOINT_WRITE])
def test_kpis_are_exact_after_the_worker_is_killed_inside_a_checkpoint(chaos_stack, size, point):
    events = size_history(size(4_000, 50_000), seed=111)
    stack = chaos_stack(workers=0, table_store="rocksdb://")
    fault = f"{point}:{KILLED_AT_COMMIT}"
    # The stream lasts several commit intervals past the kill, so the restarted worker resumes
    # from its checkpoint while events still arrive.
    killed = killed_mid_stream(stack, fault, events, size(20.0, 60.0), size(45, 120))

    # Restarted as an orchestrator would: same data directory and store, no fault setting.
    restarted_at = time.monotonic()
    worker = stack.restart_worker(killed.worker, wait=False)
    owning = wait_owning(worker.url, stack.partitions, 120)
    assert owning is not None, f"restarted, never owned its partitions:\n{worker.log_tail()}"
    back_after = round(time.monotonic() - restarted_at, 1)
    post_log = killed.feeder.finish(timeout_s=300)
    fed_s = time.monotonic() - killed.started

    settled = settle(stack, timeout_s=size(120, 300))
    result = settled_audit(
        f"1b worker killed at {fault}",
        worker.url,
        validated(post_log.accepted),
        CHAOS_AS_OF,
        facts={
            "died_at": killed.died_at,
            "owning_again_s": back_after,
            "fed_s": round(fed_s, 1),
            "settled_s": round(settled.seconds, 1),
        },
    )

    assert worker.alive, f"the restarted worker died:\n{worker.log_tail()}"
    assert settled.quiet, settled.describe()
    assert len(post_log.accepted) == len(events)
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
