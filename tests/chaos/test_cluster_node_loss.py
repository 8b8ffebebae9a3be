"""Scenario 6: a 3-node KRaft cluster (replication 3, min.insync.replicas 2) loses one node
(SIGKILL) mid-stream, the one leading most event partitions. Writes go on through the other two;
nothing acknowledged is lost and every KPI is exact."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from events.topics import TopicNames
from tests.chaos.audit import settled_audit
from tests.chaos.brokers import describe_partitions
from tests.chaos.feed import Feeder
from tests.chaos.history import CHAOS_AS_OF, event_id_of, size_history, validated
from tests.chaos.observe import read_log, settle

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]


def test_losing_one_of_three_brokers_mid_stream_loses_nothing_acknowledged(
    kraft_cluster, chaos_stack, size
):
    cluster = kraft_cluster
    events = size_history(size(1_500, 20_000), seed=606)
    stack = chaos_stack(
        workers=1,
        bootstrap=cluster.bootstrap,
        replication_factor=3,
        extra_env={"SALESPULSE_INGEST_ACK_TIMEOUT_S": "10"},
    )
    deal_topic = TopicNames(stack.prefix).deal_events
    layout = asyncio.run(describe_partitions(cluster.bootstrap, deal_topic))
    assert all(len(p["replicas"]) == 3 for p in layout), layout

    feed_s = size(12.0, 45.0)
    feeder = Feeder(stack.ingest.url, events, seconds=feed_s, batch=100, retry_for_s=120)
    feeder.start()
    time.sleep(feed_s * 0.35)
    node, led = Counter(p["leader"] for p in layout).most_common(1)[0]
    acked_before_kill = len(feeder.log.accepted)
    cluster.kill(node)
    killed_at = time.monotonic()
    post_log = feeder.finish(timeout_s=300)
    worker = stack.workers[0]
    worker_died = not worker.alive
    if worker_died:  # as an orchestrator would; reported below
        worker = stack.restart_worker(worker, wait=False)
    settled = settle(stack, timeout_s=size(150, 300))

    after = asyncio.run(describe_partitions(cluster.bootstrap, deal_topic))
    records = read_log(cluster.bootstrap, stack.prefix)
    stored = {event_id_of(r.value) for r in records}
    acknowledged = {e["event_id"] for e in post_log.accepted}
    result = settled_audit(
        "6 3-node cluster, one node killed",
        worker.url,
        validated(post_log.accepted),
        CHAOS_AS_OF,
        facts={
            "killed_node": node,
            "it_led_partitions": led,
            "acked_before_kill": acked_before_kill,
            "answers": dict(post_log.statuses),
            "slowest_answer_s": round(post_log.slowest_s, 1),
            "fed_after_kill_s": round(time.monotonic() - killed_at, 1),
            "leaders_after": [p["leader"] for p in after],
            "acked_not_stored": len(acknowledged - stored),
            "log_records": len(records),
            "stored_twice": len(records) - len(stored),
            "worker_died": worker_died,
            "settled_s": round(settled.seconds, 1),
        },
    )

    assert node not in [p["leader"] for p in after]
    assert set(post_log.statuses) <= {202, 503}, post_log.statuses
    assert acknowledged == {e["event_id"] for e in events}
    assert acknowledged - stored == set(), "acknowledged (202) but not on the log"
    assert not worker_died, "the worker died when one of three brokers did"
    assert settled.quiet, settled.describe()
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
