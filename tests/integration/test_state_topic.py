"""The state topic's reader against the real broker: every partition a take-over asks for, read
through one consumer, one partition after the other (``streams.state.snapshot_kafka``)."""

from __future__ import annotations

from contextlib import aclosing

from aiokafka.admin import NewTopic

from streams.state.snapshot_kafka import STATE_TOPIC_CONFIG, KafkaStateTopic
from tests.support.kafka import kafka_admin

PARTITIONS = 4


async def _state_topic(bootstrap: str, name: str) -> KafkaStateTopic:
    async with kafka_admin(bootstrap) as admin:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1, topic_configs=STATE_TOPIC_CONFIG)])

    async def declared() -> None:
        return None

    return KafkaStateTopic(name, [bootstrap], {}, declared)


async def test_a_take_over_reads_each_asked_partition_whole_and_in_the_order_asked(
    kafka_bootstrap, topic_prefix
):
    topic = await _state_topic(kafka_bootstrap, f"{topic_prefix}salespulse.state")
    written = {
        partition: [(f"k{partition}-{i}".encode(), f"v{i}".encode() * 50) for i in range(count)]
        for partition, count in {0: 3, 1: 40, 3: 1}.items()
    }
    try:
        for partition, records in written.items():
            await topic.send_all(partition, records)
        async with aclosing(topic.read_partitions([3, 2, 1, 0])) as chains:
            read = [(partition, records) async for partition, records in chains]
    finally:
        await topic.close()
    assert [partition for partition, _ in read] == [3, 2, 1, 0]
    assert dict(read) == {**written, 2: []}, "partition 2 has nothing: an empty list, no wait"
