"""The state topic on Kafka: send a partition's snapshot records, read partitions back.

``streams.state.snapshot`` builds and reads records without Kafka; this is the I/O around it.
Records of partition p go to partition p of the topic (the manifest names p in its key too), with
acks=all, one snapshot's records in order: a chunk is on the log before its manifest. Reading
takes each partition from its earliest offset up to the end offset seen when the read starts:
anything written later belongs to a snapshot the reader's generation has fenced anyway.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.state.snapshot_records import Record

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 16 << 20
"""Largest snapshot record: a chunk of 512 KiB, or one value that is larger on its own."""

STATE_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    "segment.ms": str(10 * 60 * 1000),
    "min.cleanable.dirty.ratio": "0.2",
    # Tombstones of replaced chunks must outlive a restore that started before them.
    "delete.retention.ms": str(24 * 3600 * 1000),
    # A value larger than a chunk travels alone in one (a long-lived deal's events): room for it.
    "max.message.bytes": str(MAX_RECORD_BYTES),
}
"""Design §6: compacted, so the log holds the live chains and little else."""

MAX_REQUEST_BYTES = MAX_RECORD_BYTES + (1 << 20)
READ_BATCH_MS = 500


class KafkaStateTopic:
    """One worker's connection to its state topic; clients start at first use.

    ``declare`` creates the topic when missing (the worker's Faust topic declaration), awaited
    once before the first send or read."""

    def __init__(
        self,
        name: str,
        bootstrap: Sequence[str],
        client_options: dict[str, Any],
        declare: Callable[[], Awaitable[None]],
    ) -> None:
        self.name, self._bootstrap, self._options = name, list(bootstrap), client_options
        self._declare, self._declared = declare, False
        self._producer: AIOKafkaProducer | None = None

    async def _ready(self) -> None:
        if not self._declared:
            await self._declare()
            self._declared = True

    async def _started_producer(self) -> AIOKafkaProducer:
        await self._ready()
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                enable_idempotence=True,
                max_request_size=MAX_REQUEST_BYTES,
                **self._options,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def send_all(self, partition: int, records: Sequence[Record]) -> None:
        """Send in order and wait until every record is acknowledged; raises on any failure."""
        if not records:
            return
        producer = await self._started_producer()
        pending = [
            await producer.send(self.name, value=value, key=key, partition=partition)
            for key, value in records
        ]
        for future in pending:
            await future

    async def read_partitions(
        self, partitions: Sequence[int]
    ) -> AsyncIterator[tuple[int, list[Record]]]:
        """Each partition's records, from the earliest offset to the end seen at start, one
        partition after the other (only one in memory at a time), through one consumer.

        One consumer for all of them: a consumer (or an assignment) per partition waited for
        the topic's metadata each time, about 0.5 s per partition, 4 s of every start of a
        worker with 8 partitions to take over. Close the iterator (``contextlib.aclosing``)
        when it is left early, which stops the consumer."""
        if not partitions:
            return
        await self._ready()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            fetch_max_bytes=MAX_REQUEST_BYTES,
            max_partition_fetch_bytes=MAX_REQUEST_BYTES,
            **self._options,
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.name, partition) for partition in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            consumer.pause(*tps)
            for tp in tps:
                consumer.resume(tp)
                yield tp.partition, await _read_until(consumer, tp, ends[tp])
                consumer.pause(tp)
        finally:
            await consumer.stop()

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()


async def _read_until(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> list[Record]:
    """The records of ``tp`` from the consumer's position up to ``end`` (exclusive)."""
    records: list[Record] = []
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=READ_BATCH_MS)
        records.extend((m.key, m.value) for m in batch.get(tp, ()) if m.offset < end)
    return records
