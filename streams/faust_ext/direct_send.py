"""Inter-agent messages as ready bytes straight to the app's producer, past ``faust.Topic.send``.

The agents' ``customer-wins`` and ``kpi-deltas`` messages are already serialised; ``Topic.send``
(attachments off) would wrap each in a ``FutureMessage`` and a ``PendingMessage``, look up
serializers and call sensors before making the same ``producer.send`` call as here (the cost is
in docs/BENCHMARKS.md, proposal 5). Durability is unchanged: the record is in aiokafka's
accumulator when ``send`` returns, so the producer flush that opens every commit (commit
protocol, step 2, ``streams.faust_ext``) covers it exactly as it covers a ``Topic.send`` record.
A delivery that fails after the client's retries is logged, as Faust logs its own; a send
refused at once raises into the agent, as ``Topic.send`` would.
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
