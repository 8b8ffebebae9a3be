"""Kafka I/O of the tools: read topics as they are now, watermarks, group lag, delete a prefix.

Every function takes the brokers and, for a cluster that is not PLAINTEXT, ``client_options``:
the security keyword arguments of ``events.kafka_security.kafka_client_options(settings)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.errors import KafkaError

from events.errors import Unavailable
from events.kafka_admin import uncommitted_per_topic
from streams.tools.dead_letter_report import DeadLetter, dead_letter_of

Progress = Callable[[int, int], None]
"""Called with (records read so far, records to read in all)."""

Options = Mapping[str, Any] | None
"""aiokafka security options (``kafka_client_options``); None: PLAINTEXT."""


class KafkaToolError(Unavailable):
    """The broker could not be reached or refused the request."""


async def partitions_of(
    bootstrap: list[str], topic: str, client_options: Options = None
) -> list[int]:
    """The partition numbers of ``topic``; ``KafkaToolError`` if it does not exist."""
    admin = _admin(bootstrap, client_options)
    try:
        await admin.start()
        described = await admin.describe_topics([topic])
    except KafkaError as exc:
        raise KafkaToolError(f"Kafka at {','.join(bootstrap)}: {exc!r}") from exc
    finally:
        await admin.close()
    found = [item for item in described if item["topic"] == topic and not item["error_code"]]
    if not found or not found[0]["partitions"]:
        raise KafkaToolError(f"topic {topic} does not exist")
    return sorted(p["partition"] for p in found[0]["partitions"])


def _admin(bootstrap: list[str], client_options: Options) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=15_000, **(client_options or {})
    )


async def _consumer(
    bootstrap: list[str], topics: list[str], client_options: Options
) -> tuple[AIOKafkaConsumer, list]:
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        for p in await partitions_of(bootstrap, topic, client_options)
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        request_timeout_ms=15_000,
        **(client_options or {}),
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise KafkaToolError(f"Kafka at {','.join(bootstrap)}: {exc!r}") from exc
    consumer.assign(partitions)
    return consumer, partitions


async def watermarks(
    bootstrap: list[str], topic: str, client_options: Options = None
) -> tuple[dict[int, int], dict[int, int]]:
    """(first offset, next offset) of every partition of ``topic``."""
    consumer, partitions = await _consumer(bootstrap, [topic], client_options)
    try:
        low = await consumer.beginning_offsets(partitions)
        high = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: o for tp, o in low.items()}, {tp.partition: o for tp, o in high.items()}


async def offsets_at(
    bootstrap: list[str], topic: str, moment: datetime, client_options: Options = None
) -> dict[int, int]:
    """Per partition, the first offset written at or after ``moment`` (the end if none)."""
    consumer, partitions = await _consumer(bootstrap, [topic], client_options)
    try:
        found = await consumer.offsets_for_times(
            {tp: int(moment.timestamp() * 1000) for tp in partitions}
        )
        high = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp.partition: (found[tp].offset if found[tp] else high[tp]) for tp in partitions}


async def read_snapshot(
    bootstrap: list[str],
    topics: list[str],
    progress: Progress | None = None,
    client_options: Options = None,
) -> list[ConsumerRecord]:
    """Every record of ``topics`` present now (up to the end offsets at the start of the read),
    in topic, partition and offset order: each partition's arrival order."""
    consumer, partitions = await _consumer(bootstrap, topics, client_options)
    records: list[ConsumerRecord] = []
    try:
        low = await consumer.beginning_offsets(partitions)
        high = await consumer.end_offsets(partitions)
        total = sum(high[tp] - low[tp] for tp in partitions)
        pending = {tp for tp in partitions if high[tp] > low[tp]}
        for tp in partitions:
            consumer.seek(tp, low[tp])
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, fetched in batch.items():
                records += [record for record in fetched if record.offset < high[tp]]
            for tp in list(pending):
                if await consumer.position(tp) >= high[tp]:
                    pending.discard(tp)
            if progress is not None:
                progress(len(records), total)
    except KafkaError as exc:
        raise KafkaToolError(f"reading {', '.join(topics)}: {exc!r}") from exc
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (topics.index(r.topic), r.partition, r.offset))


async def read_dead_letters(
    bootstrap: list[str],
    topic: str,
    progress: Progress | None = None,
    client_options: Options = None,
) -> list[DeadLetter]:
    """Every record of the dead-letter ``topic`` present now, in partition then offset order."""
    return [
        dead_letter_of(r.partition, r.offset, r.timestamp, r.key, r.value, r.headers)
        for r in await read_snapshot(bootstrap, [topic], progress, client_options)
    ]


async def group_lag(
    bootstrap: list[str], group: str, topics: list[str], client_options: Options = None
) -> dict[str, int]:
    """Per topic, how many records the consumer ``group`` has not committed yet (end - committed;
    a partition without a committed offset counts from its first offset)."""
    consumer, partitions = await _consumer(bootstrap, topics, client_options)
    admin = _admin(bootstrap, client_options)
    try:
        low = await consumer.beginning_offsets(partitions)
        high = await consumer.end_offsets(partitions)
        await admin.start()
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    except KafkaError as exc:
        raise KafkaToolError(f"lag of group {group}: {exc!r}") from exc
    finally:
        await consumer.stop()
        await admin.close()
    return {**dict.fromkeys(topics, 0), **uncommitted_per_topic(partitions, high, committed, low)}


async def delete_before(
    bootstrap: list[str], topic: str, plan: dict[int, int], client_options: Options = None
) -> dict[int, int]:
    """Kafka DeleteRecords: drop every record before ``plan[p]`` in each partition ``p``.

    Returns the new first offset (low watermark) of each partition.
    """
    admin = _admin(bootstrap, client_options)
    try:
        await admin.start()
        done = await admin.delete_records(
            {TopicPartition(topic, p): RecordsToDelete(offset) for p, offset in plan.items()}
        )
    except KafkaError as exc:
        raise KafkaToolError(f"deleting records of {topic}: {exc!r}") from exc
    finally:
        await admin.close()
    return {tp.partition: low for tp, low in done.items()}
