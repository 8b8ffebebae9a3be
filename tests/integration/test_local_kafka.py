"""The local broker (deploy/kafka/kafka.sh) is a real Apache Kafka that behaves as services need."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.conftest import TEST_KAFKA_ENV, run_kafka_sh
from tests.support.polling import await_until, poll_async

pytestmark = pytest.mark.integration


async def create_topic(bootstrap: str, name: str, partitions: int) -> list[dict]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=1)]
        )
        errors = [(t[0], t[1]) for t in response.topic_errors if t[1] != 0]
        assert errors == [], f"create_topics failed: {response.topic_errors}"
        # The topic's metadata reaches the broker's cache shortly after creation.
        described = await await_until(
            lambda: describe_topic(admin, name),
            5,
            0.1,
            f"topic {name} visible with {partitions} partitions",
            until=lambda d: d["error_code"] == 0 and len(d["partitions"]) == partitions,
        )
        return described["partitions"]
    finally:
        await admin.close()


async def describe_topic(admin: AIOKafkaAdminClient, name: str) -> dict:
    (described,) = await admin.describe_topics([name])
    return described


async def test_a_topic_with_three_partitions_is_created_under_the_tests_prefix(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    name = f"{topic_prefix}sales.deal-events"

    partitions = await create_topic(kafka_bootstrap, name, partitions=3)

    assert sorted(p["partition"] for p in partitions) == [0, 1, 2]
    assert all(p["error_code"] == 0 and p["leader"] == 1 for p in partitions)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert name in await admin.list_topics()
    finally:
        await admin.close()


async def test_records_produced_with_acks_all_and_idempotence_are_consumed_back_in_order_per_key(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}sales.deal-events"
    await create_topic(kafka_bootstrap, topic, partitions=3)
    keys = [f"deal-{i}" for i in range(12)]
    sent: dict[str, list[str]] = {k: [f"{k}/v{n}" for n in range(5)] for k in keys}

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for n in range(5):  # interleave keys: order must still hold per key
            for k in keys:
                meta = await producer.send_and_wait(topic, sent[k][n].encode(), key=k.encode())
                assert meta.topic == topic and meta.offset >= 0
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    received: dict[str, list[str]] = defaultdict(list)
    partition_of: dict[str, set[int]] = defaultdict(set)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        await consumer.seek_to_beginning()
        expected_total = sum(len(v) for v in sent.values())

        async def read_more() -> int:
            """Records received so far; getmany waits up to 500 ms for more."""
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    key = record.key.decode()
                    received[key].append(record.value.decode())
                    partition_of[key].add(tp.partition)
            return sum(len(values) for values in received.values())

        await poll_async(read_more, 30, 0, until=lambda total: total >= expected_total)
    finally:
        await consumer.stop()

    assert dict(received) == sent  # nothing lost, nothing duplicated, per-key order kept
    assert all(len(parts) == 1 for parts in partition_of.values())  # a key sticks to a partition
    assert len(set().union(*partition_of.values())) > 1  # and keys spread over partitions


@pytest.mark.skipif(
    bool(os.environ.get("SALESPULSE_TEST_KAFKA_BOOTSTRAP")),
    reason="an external cluster is in use, not a broker started by kafka.sh",
)
async def test_starting_the_broker_again_is_harmless_and_keeps_the_same_process(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    pid_file = Path(TEST_KAFKA_ENV["KAFKA_STATE_DIR"]) / "kafka.pid"
    pid_before = pid_file.read_text().strip()

    again = await asyncio.to_thread(run_kafka_sh, "start", 120)

    assert again.returncode == 0, again.stdout
    assert "already running" in again.stdout
    assert pid_file.read_text().strip() == pid_before
    assert Path(f"/proc/{pid_before}").exists()
    # and the broker still serves requests
    partitions = await create_topic(kafka_bootstrap, f"{topic_prefix}after-restart-attempt", 1)
    assert len(partitions) == 1
