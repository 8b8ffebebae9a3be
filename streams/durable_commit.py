"""Commit an input offset only once every table write made before it is stored.

The exactly-once-effect design (docs/GUARANTEES.md) rests on one Faust promise: before committing
input offsets, a worker flushes its producer, so the table changelog writes and the messages caused
by the input below those offsets are on Kafka. Faust keeps table writes in a ``ProducerBuffer``
(``Table.__setitem__`` is synchronous), and faust-streaming 0.15's ``ProducerBuffer.flush`` gives
up as soon as 0.1 s pass without a message leaving the buffer, which happens whenever the Kafka
client applies backpressure (a full batch waiting for the broker). The commit then goes ahead with
table writes still queued; a crash at that moment loses them while their input is never replayed:
a customer's history misses a deal's win, an event's "seen" mark is gone and a redelivered copy
counts twice. The buffer below drains for real: ``flush`` returns only when nothing is queued
and nothing is being handed to the Kafka client. It is also where the tables' deferred changelog
records are queued (``streams.write_behind``), so they precede every commit.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import faust
from faust.transport.producer import ProducerBuffer

from streams.ordered_delivery import SeekFencedConsumer
from streams.write_behind import send_unsent_table_writes

RECHECK_S = 0.05


class DrainingProducerBuffer(ProducerBuffer):
    """Faust's table-write buffer with a ``flush`` that waits until it is empty."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.handing_over = 0
        """Messages taken off the queue and not yet accepted by the Kafka client."""

    async def _send_pending(self, fut: Any) -> None:
        self.handing_over += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.handing_over -= 1

    def is_drained(self) -> bool:
        return self.size == 0 and self.handing_over == 0

    async def flush(self) -> None:
        # Tables defer their changelog records to this moment (``streams.write_behind``).
        tables = getattr(getattr(self, "app", None), "tables", None)
        if tables is not None:
            send_unsent_table_writes(tables.values())
        # Re-check on a short period rather than trusting one event: the sender task sets
        # ``message_sent`` after each message, possibly between a check and the wait.
        while not self.is_drained():
            if self.state != "running" and self.size:
                raise RuntimeError("Cannot flush: Producer not Running")  # as Faust's own
            self.message_sent.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), RECHECK_S)


class SalespulseApp(faust.App):
    """A Faust app whose producer drains its table-write buffer before every commit, and whose
    consumer delivers each partition in offset order across rebalances
    (``streams.ordered_delivery``)."""

    def _new_consumer(self) -> Any:
        return SeekFencedConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )

    def _new_producer(self) -> Any:
        producer = super()._new_producer()
        buffer = DrainingProducerBuffer(loop=producer.loop, beacon=producer.beacon)
        buffer.app = self
        producer.buffer = buffer
        return producer
