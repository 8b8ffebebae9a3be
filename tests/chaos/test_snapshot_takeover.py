"""Scenario 7 on a fresh host, and 7b: a worker that has never seen the partitions takes them over
from the state topic's snapshots (design state-engine-v2 §6), after a planned stop and after its
predecessor was killed between a snapshot's chunks and its manifest.

The new worker has its own, empty data directory (what a new host, or ``memory://``, starts with):
it restores each partition's latest complete snapshot chain and replays only the logs after it.
How much it replayed is read from the state engine's resume line; the KPIs must be exact.
"""

from __future__ import annotations

import time

import pytest

from streams.state.faults import IN_SNAPSHOT
from tests.chaos.audit import settled_audit
from tests.chaos.feed import post_events
from tests.chaos.history import CHAOS_AS_OF, size_history, validated
from tests.chaos.observe import killed_mid_stream, replay_since, settle, wait_owning

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

SNAPSHOT_EVERY_COMMIT = {"SALESPULSE_SNAPSHOT_INTERVAL_S": "0"}
MOST_REPLAYED = 0.10
"""A take-over from snapshots re-reads at most this share of the committed input."""
KILLED_AT_SNAPSHOT = 12
"""The 12th snapshot (of any partition) dies before its manifest: a few commits into the stream,
with complete chains of the earlier ones on the topic."""


def test_a_fresh_host_takes_the_partitions_over_from_snapshots_without_replaying_history(
    chaos_stack, size
):
    history = size_history(size(3_000, 50_000), seed=717)
    stack = chaos_stack(workers=1, table_store="rocksdb://", extra_env=SNAPSHOT_EVERY_COMMIT)
    first = post_events(stack.ingest.url, history, batch=1000)
    built = settle(stack, timeout_s=size(120, 400))
    assert built.quiet, built.describe()
    stack.workers[0].stop()  # planned: its last snapshots finish before it exits

    started = time.monotonic()
    fresh = stack.start_worker(wait=False)
    ready_s = wait_owning(fresh.url, stack.partitions, 180)
    took_over_s = None if ready_s is None else round(time.monotonic() - started, 1)
    replay = replay_since(fresh.log_path, 0)
    settled = settle(stack, timeout_s=size(60, 300))
    result = settled_audit(
        "7 fresh host: take-over from snapshots",
        fresh.url,
        validated(first.accepted),
        CHAOS_AS_OF,
        facts={
            "ready_s": took_over_s,
            "replayed": replay.replayed,
            "committed_records": replay.committed,
        },
    )

    assert ready_s is not None, f"the fresh worker never owned the partitions:\n{fresh.log_tail()}"
    assert "state restore: partition" in fresh.log_path.read_text(errors="replace")
    assert replay.recoveries >= 1, "no state resume found in the worker log"
    assert replay.replayed <= MOST_REPLAYED * replay.committed, result.summary()
    assert settled.quiet, settled.describe()
    assert result.exact, result.summary()


def test_kpis_are_exact_when_a_fresh_host_takes_over_from_a_worker_killed_inside_a_snapshot(
    chaos_stack, size
):
    events = size_history(size(4_000, 50_000), seed=727)
    stack = chaos_stack(workers=0, table_store="rocksdb://", extra_env=SNAPSHOT_EVERY_COMMIT)
    fault = f"{IN_SNAPSHOT}:{KILLED_AT_SNAPSHOT}"
    killed = killed_mid_stream(stack, fault, events, size(20.0, 60.0), size(60, 150))

    fresh = stack.start_worker(wait=False)
    owning = wait_owning(fresh.url, stack.partitions, 180)
    assert owning is not None, f"the fresh worker never owned the partitions:\n{fresh.log_tail()}"
    post_log = killed.feeder.finish(timeout_s=300)
    settled = settle(stack, timeout_s=size(120, 300))
    result = settled_audit(
        f"7b fresh host after a kill at {fault}",
        fresh.url,
        validated(post_log.accepted),
        CHAOS_AS_OF,
        facts={"died_at": killed.died_at, "owning_s": round(owning, 1)},
    )

    assert fresh.alive, f"the fresh worker died:\n{fresh.log_tail()}"
    assert "state restore: partition" in fresh.log_path.read_text(errors="replace")
    assert settled.quiet, settled.describe()
    assert len(post_log.accepted) == len(events)
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
