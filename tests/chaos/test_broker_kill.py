"""Scenario 4: the broker is killed (SIGKILL) mid-stream and restarted on its data. While it cannot
store, ingest answers 503, never 202; clients retry; nothing acknowledged is lost.

The broker is this test's own (deploy/kafka/kafka.sh on free ports, state in the test's tmp dir),
never the shared test broker."""

from __future__ import annotations

import time

import pytest

from tests.chaos.audit import settled_audit
from tests.chaos.feed import Feeder
from tests.chaos.history import CHAOS_AS_OF, event_id_of, size_history, validated
from tests.chaos.observe import read_log, settle

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

ACK_TIMEOUT_S = 5
OUTAGE_S = 4


def test_a_killed_broker_gets_503s_never_false_202s_and_loses_nothing_acknowledged(
    dedicated_broker, chaos_stack, size
):
    broker = dedicated_broker
    events = size_history(size(2_500, 20_000), seed=404)
    stack = chaos_stack(
        workers=1,
        bootstrap=broker.bootstrap,
        extra_env={"SALESPULSE_INGEST_ACK_TIMEOUT_S": str(ACK_TIMEOUT_S)},
    )
    feed_s = size(12.0, 60.0)
    feeder = Feeder(stack.ingest.url, events, seconds=feed_s, batch=100, retry_for_s=180)
    feeder.start()

    time.sleep(feed_s * 0.3)
    acked_before_kill = len(feeder.log.accepted)
    broker.kill()
    down_from = time.monotonic()
    time.sleep(OUTAGE_S)
    restart_from = time.monotonic()
    restart_s = broker.start()
    up_at = time.monotonic()
    post_log = feeder.finish(timeout_s=300)

    worker = stack.workers[0]
    worker_died = not worker.alive
    if worker_died:  # as an orchestrator would; reported below
        worker = stack.restart_worker(worker, wait=False)
    settled = settle(stack, timeout_s=size(150, 300))

    records = read_log(broker.bootstrap, stack.prefix)
    stored = {event_id_of(r.value) for r in records}
    acknowledged = {e["event_id"] for e in post_log.accepted}
    false_acks = [t for t, s in post_log.answers if s == 202 and down_from + 1 < t < restart_from]
    after_up = [t - up_at for t, s in post_log.answers if s == 202 and t > up_at]
    result = settled_audit(
        "4 broker kill -9 + restart",
        worker.url,
        validated(post_log.accepted),
        CHAOS_AS_OF,
        facts={
            "acked_before_kill": acked_before_kill,
            "answers": dict(post_log.statuses),
            "slowest_answer_s": round(post_log.slowest_s, 1),
            "broker_down_s": round(up_at - down_from, 1),
            "broker_restart_s": round(restart_s, 1),
            "first_202_after_up_s": round(after_up[0], 1) if after_up else None,
            "acked_not_stored": len(acknowledged - stored),
            "log_records": len(records),
            "stored_twice": len(records) - len(stored),
            "stored_not_acked": len(stored - acknowledged),
            "worker_died": worker_died,
            "settled_s": round(settled.seconds, 1),
        },
    )

    assert set(post_log.statuses) <= {202, 503}, post_log.statuses
    assert post_log.statuses[503] >= 1, "ingest never said 503 while the broker was down"
    assert false_acks == [], f"{len(false_acks)} answers 202 while the broker was down"
    assert acknowledged == {e["event_id"] for e in events}, "the client got every event stored"
    assert acknowledged - stored == set(), "acknowledged (202) but not on the log"
    assert settled.quiet, settled.describe()
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
