"""Publishing validated events to the log, acknowledged by every in-sync replica.

``publish`` returns only once the broker has acknowledged every message of the batch (acks=all,
idempotent producer), and raises ``BrokerUnavailable`` otherwise: the caller then answers 503, never
202, so an event is reported stored only when it is. The converse does not hold: a batch the
broker wrote but did not get to acknowledge (it died, or the deadline passed) is reported
unavailable, so a 503'd event may be on the log. Clients retry, and the workers count an
``event_id`` once, so that is safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from events.kafka_security import kafka_client_options

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: str | bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    """Kafka record headers, e.g. where a re-injected dead letter came from."""


class EventPublisher:
    """One idempotent producer, started lazily so a process can come up before its broker."""

    def __init__(
        self,
        bootstrap_servers: list[str],
        ack_timeout_s: float,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._ack_timeout_s = ack_timeout_s
        self._client_options = dict(client_options or {})
        """Security protocol, SASL and TLS (``events.kafka_security.kafka_client_options``)."""
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> EventPublisher:
        """The publisher of ingest and the tools: settings' brokers, deadline and security."""
        return cls(
            settings.bootstrap_servers,
            settings.ingest_ack_timeout_s,
            kafka_client_options(settings),
        )

    async def _ready_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=2,
                max_batch_size=256 * 1024,
                request_timeout_ms=int(self._ack_timeout_s * 1000),
                metadata_max_age_ms=30_000,
                **self._client_options,
            )
            try:
                await asyncio.wait_for(producer.start(), self._ack_timeout_s)
            except (KafkaError, OSError, TimeoutError) as exc:
                await _quietly_stop(producer)
                raise BrokerUnavailable(f"Kafka is not reachable: {exc!r}") from exc
            self._producer = producer
            return producer

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        producer = await self._ready_producer()
        try:
            futures = [
                await producer.send(
                    item.topic,
                    item.value,
                    key=item.key.encode() if isinstance(item.key, str) else item.key,
                    headers=list(item.headers) or None,
                )
                for item in batch
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self._ack_timeout_s)
        except (KafkaError, TimeoutError) as exc:
            log.warning("publish of %d events failed: %r", len(batch), exc)
            raise BrokerUnavailable(f"the broker did not acknowledge the events: {exc!r}") from exc

    async def check(self) -> None:
        """Raise ``BrokerUnavailable`` unless the cluster answers a metadata request now."""
        producer = await self._ready_producer()
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), self._ack_timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"Kafka is not answering: {exc!r}") from exc

    async def close(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await _quietly_stop(self._producer)
                self._producer = None


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    try:
        await producer.stop()
    except (KafkaError, OSError) as exc:  # already broken: nothing left to flush
        log.debug("producer stop: %r", exc)
