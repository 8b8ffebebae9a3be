"""Reading back everything that was published, once the writers are done: no quiet period.

``read_topic`` without ``expect`` reads until a topic has been quiet for a few seconds: right when
nothing says the writers are done, but then every "nothing was published" costs those seconds.
When the writers are known to be done, reading up to the end offsets is the whole topic:

- ``read_published``: every record of a topic up to its end offsets at the call, i.e. every
  record the broker acknowledged before it (the product publishes with acks=all and answers, or
  exits, only once its records are acknowledged): complete after an answered ingest request or
  an exited CLI.
- ``interpreted``: waits until the CRM delivery interpreter of a prefix has committed every
  delivery stored so far. It commits a delivery only after the broker acknowledged everything it
  published for it (``events.crm.interpreter``), so afterwards ``read_published`` holds all of
  it. A delivery stored but never interpreted fails the wait (``NotWithin``).
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from events.crm.interpreter import interpreter_group
from events.topics import TopicNames
from tests.support.kafka import Record, kafka_admin, record_of
from tests.support.polling import await_until


async def _partitions(bootstrap: str, topics: list[str]) -> list[TopicPartition]:
    async with kafka_admin(bootstrap) as admin:
        described = await admin.describe_topics(topics)
    found = {item["topic"]: item for item in described if not item["error_code"]}
    missing = [topic for topic in topics if not found.get(topic, {}).get("partitions")]
    assert not missing, f"no such topics: {missing}"
    return [
        TopicPartition(topic, p["partition"])
        for topic in topics
        for p in found[topic]["partitions"]
    ]


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """The next offset of every partition of ``topics``."""
    partitions = await _partitions(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def read_published(bootstrap: str, *topics: str, timeout_s: float = 20) -> list[Record]:
    """Every record of ``topics`` below their end offsets at the call, in (topic, partition,
    offset) order."""
    partitions = await _partitions(bootstrap, list(topics))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[Record] = []
    try:
        consumer.assign(partitions)
        firsts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, firsts[tp])

        async def read_more() -> list[TopicPartition]:
            """Partitions not read to their end yet."""
            batch = await consumer.getmany(timeout_ms=200)
            for tp, messages in batch.items():
                records.extend(record_of(m) for m in messages if m.offset < ends[tp])
            return [tp for tp in partitions if await consumer.position(tp) < ends[tp]]

        await await_until(
            read_more,
            timeout_s,
            0,
            f"{', '.join(topics)} read to {ends}",
            until=lambda left: not left,
        )
    finally:
        await consumer.stop()
    order = {topic: n for n, topic in enumerate(topics)}
    return sorted(records, key=lambda r: (order[r.topic], r.partition, r.offset))


async def interpreted(bootstrap: str, prefix: str, timeout_s: float = 30) -> None:
    """Once every delivery stored under ``prefix`` so far is interpreted and its records are
    acknowledged: the interpreter's group committed the deliveries topic to its end offsets."""
    stored = await end_offsets(bootstrap, [TopicNames(prefix).crm_deliveries])
    group = interpreter_group(prefix)

    async def behind() -> dict[TopicPartition, int]:
        async with kafka_admin(bootstrap) as admin:
            committed = await admin.list_consumer_group_offsets(group)
        done = {tp: meta.offset for tp, meta in committed.items()}
        return {tp: end - done.get(tp, 0) for tp, end in stored.items() if end > done.get(tp, 0)}

    await await_until(
        behind,
        timeout_s,
        0.05,
        f"the CRM interpreter of {prefix} done with the stored deliveries",
        until=lambda left: not left,
    )
