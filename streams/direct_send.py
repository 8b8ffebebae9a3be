"""Inter-agent messages as ready bytes straight to the app's producer, past ``faust.Topic.send``.

Why: the agents' messages on ``customer-wins`` and ``kpi-deltas`` are already serialised (orjson
bytes, raw key), yet ``Topic.send`` builds a ``FutureMessage`` and a ``PendingMessage`` per message,
prepares headers, looks up serializers and calls sensors before it reaches the producer: about 5 %
of the worker's own time in the profile (docs/BENCHMARKS.md, proposal 5).

Durability is unchanged (docs/GUARANTEES.md, "Design" 1: what input below a committed offset
caused must be on Kafka before that commit), checked against faust-streaming 0.15 and aiokafka:

- ``Topic.send`` (attachments are off: ``stream_publish_on_commit`` is False) ends in
  ``Topic.publish_message``, which awaits ``producer.send(topic, key, value, partition=...,
  timestamp=..., headers=...)`` of the app's producer: the same call as here. It returns once
  the record is in the accumulator of Faust's one ``AIOKafkaProducer`` (waiting when it is full).
- Before committing offsets, Faust's ``Consumer.commit`` awaits ``app.producer.flush()``, which
  drains the table-write buffer (``streams.durable_commit``) and then awaits
  ``AIOKafkaProducer.flush()``: every batch in that accumulator delivered, acks=all. A record
  sent here is in the accumulator before the send returns, hence before the commit that follows
  the batch that caused it, and the flush covers it exactly as it covers a ``Topic.send`` record.

A delivery that fails after the client's retries is logged, as Faust's ``Topic._on_published``
does for its own sends; a send refused at once raises into the agent, as ``Topic.send`` would.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


class DirectSender:
    """Sends ready bytes to one Faust topic through its app's producer."""

    def __init__(self, topic: Any) -> None:
        self.app = topic.app
        self.topic_name: str = topic.get_topic_name()

    async def send(self, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        """Hand one record to the producer; ``partition=None`` places it by its key (murmur2)."""
        producer = await self.app.maybe_start_producer()
        delivery = await producer.send(self.topic_name, key, value, partition, None, None)
        delivery.add_done_callback(self._log_failure)

    def _log_failure(self, delivery: asyncio.Future) -> None:
        if not delivery.cancelled() and delivery.exception() is not None:
            log.warning("send to %s failed: %r", self.topic_name, delivery.exception())
