"""Publishing validated events to the log, acknowledged by every in-sync replica.

``publish`` returns only once the broker has acknowledged every message of the batch (acks=all,
idempotent producer), and raises ``BrokerUnavailable`` otherwise: the caller then answers 503, never
202, so an event is reported stored only when it is. The converse does not hold: a batch the
broker wrote but did not get to acknowledge (it died, or the deadline passed) is reported
unavailable, so a 503'd event may be on the log. Clients retry, and the workers count an
``event_id`` once, so that is safe.

A retry cannot fix a record over Kafka's size limit, so that one is ``RecordTooLarge`` instead:
checked for the whole batch before anything is sent (``oversize_reason``), and, should the
broker's own limit be lower, mapped from its refusal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from events.errors import Unavailable
from events.kafka_security import kafka_client_options
from events.settings import Settings

log = logging.getLogger(__name__)


MAX_RECORD_BYTES = 1024 * 1024
"""Largest Kafka record salespulse sends, key, value, headers and batch framing included.

It is the producer's ``max_request_size`` and aiokafka's default, and stays under the broker's
default ``max.message.bytes`` (1 MiB + 12 bytes): a record this size or smaller is storable on a
default topic, a larger one never is."""

_REFUSED_AS_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
"""aiokafka's own size check (raised by ``send``) and the broker's (on the acknowledgement)."""


class BrokerUnavailable(Unavailable):
    """The broker did not acknowledge in time, or could not be reached: a retry may succeed."""


class RecordTooLarge(BrokerUnavailable):
    """A record Kafka will never store, whatever the retries: the caller refuses it (4xx).

    ``index`` is its position in the published batch. ``partial``: records before it may already
    be stored (only when the broker, not the check before sending, refused it). A subclass of
    ``BrokerUnavailable`` only so that callers which know nothing of it still fail cleanly; its
    status and exit code are those of a refused event, since no retry can store it.
    """

    http_status = 422
    exit_code = 1

    def __init__(self, index: int, reason: str, *, partial: bool = False) -> None:
        super().__init__(f"event {index}: {reason}")
        self.index, self.reason, self.partial = index, reason, partial


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: str | bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    """Kafka record headers, e.g. where a re-injected dead letter came from."""


def record_size(item: Outgoing) -> int:
    """Bytes of ``item`` as one record in its own batch: what the size limit applies to."""
    return DefaultRecordBatchBuilder.estimate_size_in_bytes(
        _key_bytes(item.key), item.value, list(item.headers)
    )


def oversize_reason(item: Outgoing) -> str | None:
    """Why ``item`` can never be stored (over ``MAX_RECORD_BYTES``), or None when it fits."""
    size = record_size(item)
    if size <= MAX_RECORD_BYTES:
        return None
    return (
        f"event: {size:,} bytes once encoded for Kafka, over the limit of {MAX_RECORD_BYTES:,} "
        "bytes per message (a retry cannot succeed)"
    )


def refuse_oversized(batch: Sequence[Outgoing]) -> None:
    """``RecordTooLarge`` for the first record of ``batch`` over the limit, before any is sent."""
    for index, item in enumerate(batch):
        reason = oversize_reason(item)
        if reason is not None:
            raise RecordTooLarge(index, reason)


def _key_bytes(key: str | bytes | None) -> bytes | None:
    return key.encode() if isinstance(key, str) else key


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
    def from_settings(cls, settings: Settings) -> EventPublisher:
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
                max_request_size=MAX_RECORD_BYTES,
                request_timeout_ms=int(self._ack_timeout_s * 1000),
                metadata_max_age_ms=30_000,
                **self._client_options,
            )
            try:
                await asyncio.wait_for(producer.start(), self._ack_timeout_s)
            except (KafkaError, OSError, TimeoutError) as exc:
                await _quietly_stop(producer)
                raise BrokerUnavailable(f"Kafka is not reachable: {exc!r}") from exc
            except asyncio.CancelledError:  # a caller's shorter deadline: leave nothing running
                await _quietly_stop(producer)
                raise
            self._producer = producer
            return producer

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        """Return once every record is acknowledged; ``RecordTooLarge`` or ``BrokerUnavailable``.

        The size of every record is checked before the first is handed to the producer, so a
        batch holding one that is too large publishes nothing. A caller with a shorter deadline
        (a CRM webhook) may cancel it: nothing is left half-started.
        """
        refuse_oversized(batch)
        producer = await self._ready_producer()
        futures: list[asyncio.Future] = []
        try:
            for item in batch:
                futures.append(await self._send(producer, item))
            outcomes = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), self._ack_timeout_s
            )
        except _REFUSED_AS_TOO_LARGE as exc:  # aiokafka's check, should ours ever be laxer
            raise RecordTooLarge(len(futures), f"event: {exc}", partial=bool(futures)) from exc
        except (KafkaError, TimeoutError) as exc:
            log.warning("publish of %d events failed: %r", len(batch), exc)
            raise BrokerUnavailable(f"the broker did not acknowledge the events: {exc!r}") from exc
        _raise_first_failure(outcomes, len(batch))

    @staticmethod
    async def _send(producer: AIOKafkaProducer, item: Outgoing) -> asyncio.Future:
        return await producer.send(
            item.topic,
            item.value,
            key=_key_bytes(item.key),
            headers=list(item.headers) or None,
        )

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


def _raise_first_failure(outcomes: Sequence[object], count: int) -> None:
    """A record the broker refused as too large first (no retry helps), else any failure."""
    failures = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    for index, outcome in failures:
        if isinstance(outcome, _REFUSED_AS_TOO_LARGE):
            reason = f"event: the broker refused it as too large ({outcome})"
            raise RecordTooLarge(index, reason, partial=True) from outcome
    for _, outcome in failures:
        if not isinstance(outcome, KafkaError):
            raise outcome
        log.warning("publish of %d events failed: %r", count, outcome)
        raise BrokerUnavailable(
            f"the broker did not acknowledge the events: {outcome!r}"
        ) from outcome


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    try:
        await producer.stop()
    except (KafkaError, OSError) as exc:  # already broken: nothing left to flush
        log.debug("producer stop: %r", exc)
