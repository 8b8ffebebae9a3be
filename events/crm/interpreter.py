"""The CRM delivery interpreter: a background task of the ingest process.

It reads the raw-deliveries topic in its own consumer group
(``<topic_prefix>salespulse-crm-interpreter``) and, for each delivery in partition order,
publishes what ``events.crm.interpretation`` makes of it (native events and dead letters, acks=all)
before committing the delivery's offset: at least once, and a repeat is harmless because event
ids come from the deals' state.

Nothing stops it for good: a broker or vendor API that does not answer pauses it on that
delivery, retried with a doubling pause (0.5 s up to ``crm_interpreter_retry_max_s``); a consumer
that loses the broker reconnects. Any other exception while interpreting one delivery makes that
delivery a dead letter (the stored record as it is, re-injectable, reason ``unexpected: ...``)
and the interpreter moves on; an unexpected error outside a delivery restarts its loop after the
same doubling pause, and ``health()`` says it is not running (``/readyz`` answers 503) until its
consumer is back. A record the topic refuses as too large is handled unit by unit
(``events.crm.oversize``). The process keeps serving webhooks meanwhile: they only need the
broker to store the raw record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from events.crm.deal_source import VendorUnavailable
from events.crm.deliveries import VENDORS
from events.crm.interpretation import Context, Interpretation, Origin, interpret
from events.crm.oversize import fitting_letter, publish_by_unit
from events.ingest_telemetry import CrmTelemetry
from events.publisher import BrokerUnavailable, EventPublisher, Outgoing, RecordTooLarge
from events.settings import Settings

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.5


EMPTY_WITHOUT_HUBSPOT_SOURCE = (
    "opportunities",
    "conversion_ratio",
    "pipeline_created",
    "time_to_win_seconds",
    "calls_per_opportunity",
    "open_deals",
    "open_pipeline",
    "weighted_pipeline",
    "customers",
    "new_customers",
    "average_basket",
    "cac",
)
"""KPIs that HubSpot deals do not reach from webhooks alone: a webhook never carries the deal's
associated company (its customer), so no deal.created (contract section 1) and no customer."""


def interpreter_group(topic_prefix: str) -> str:
    return f"{topic_prefix}salespulse-crm-interpreter"


def enrichment(settings: Settings, sources: Mapping[str, Any]) -> dict[str, Any]:
    """What the CRM API access of this process leaves out, for the startup log and /readyz."""
    if not settings.hubspot_client_secret or "hubspot" in sources:
        return {"hubspot_api": "hubspot" in sources}
    return {"hubspot_api": False, "hubspot_kpis_empty": list(EMPTY_WITHOUT_HUBSPOT_SOURCE)}


class DeliveryInterpreter:
    def __init__(
        self,
        *,
        bootstrap_servers: list[str],
        topic: str,
        group: str,
        publisher: EventPublisher,
        context: Context,
        telemetry: CrmTelemetry,
        client_options: Mapping[str, Any] | None = None,
        max_pause_s: float = 30.0,
    ) -> None:
        self._bootstrap, self._topic, self._group = bootstrap_servers, topic, group
        self._publisher, self._context, self._telemetry = publisher, context, telemetry
        self._client_options = dict(client_options or {})
        self._max_pause_s = max_pause_s
        self._task: asyncio.Task | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._next: dict[TopicPartition, int] = {}
        self.last_error: str | None = None
        self.down: str | None = None
        self._sleep = asyncio.sleep
        """Why the loop is restarting after an unexpected error (None while it runs)."""
        self.enrichment: dict[str, Any] = {}
        """What API access this process has (``enrichment``), shown with its health."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="crm-interpreter")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def health(self) -> dict[str, Any]:
        """For /readyz: running, deliveries not interpreted yet (read from memory), last error."""
        pending = self._pending()
        if pending is not None:
            self._telemetry.pending.set(pending)
        alive = self._task is not None and not self._task.done()
        return {
            "running": alive and self.down is None,
            "pending": pending,
            "last_error": self.last_error if alive else self._ended(),
        }

    def _ended(self) -> str:
        task = self._task
        if task is None or task.cancelled():
            return "the CRM interpreter is stopped"
        return f"the CRM interpreter ended: {task.exception()!r}"

    def _pending(self) -> int | None:
        """Records behind the last interpreted one, on the partitions this process reads."""
        consumer = self._consumer
        if consumer is None or not self._next:
            return None
        total = 0
        for tp in consumer.assignment():
            high, done = consumer.highwater(tp), self._next.get(tp)
            if high is not None and done is not None:
                total += max(high - done, 0)
        return total

    async def _run(self) -> None:
        pause = FIRST_PAUSE_S
        while True:
            consumer = self._new_consumer()
            try:
                await consumer.start()
                self._consumer, self.down = consumer, None
                pause = FIRST_PAUSE_S
                await self._consume(consumer)
            except (KafkaError, OSError) as exc:
                self._failed("broker", exc)
            except Exception as exc:  # anything else: restart, never end
                log.exception("CRM interpreter: unexpected error, restarting")
                self.down = f"unexpected error, restarting: {type(exc).__name__}: {exc}"[:300]
                self.last_error = self.down
                self._telemetry.retries.labels("unexpected").inc()
            finally:
                self._consumer = None
                with contextlib.suppress(KafkaError, OSError):
                    await consumer.stop()
            await self._sleep(pause)
            pause = min(pause * 2, self._max_pause_s)

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=2 * 1024 * 1024,
            **self._client_options,
        )

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=100)
            for tp, records in batch.items():
                for record in records:
                    await self._until_done(record)
                await self._commit(consumer, tp, records[-1].offset + 1)
                self._next[tp] = records[-1].offset + 1
            self.health()

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        """A failed commit (a rebalance took the partition) only means a harmless repeat."""
        try:
            await consumer.commit({tp: offset})
        except KafkaError as exc:
            log.warning("commit of %s at %d failed (interpreted again): %r", tp, offset, exc)

    async def _until_done(self, record: ConsumerRecord) -> None:
        """Interpret and publish one delivery, retrying for as long as it takes."""
        origin = Origin(record.topic, record.partition, record.offset)
        pause = FIRST_PAUSE_S
        while True:
            try:
                result = await interpret(record.key, record.value, origin, self._context)
                await self._publish(result, origin)
                self.last_error = None
                return
            except VendorUnavailable as exc:
                self._failed("vendor", exc)
            except BrokerUnavailable as exc:
                self._failed("broker", exc)
            except Exception as exc:
                if await self._unexpected(record, origin, exc):
                    return
            await self._sleep(pause)
            pause = min(pause * 2, self._max_pause_s)

    async def _publish(self, result: Interpretation, origin: Origin) -> None:
        try:
            await self._publisher.publish(result.records)
        except RecordTooLarge as exc:  # the topic's own limit is lower: one unit at a time
            log.warning("delivery at %s: %s; publishing it unit by unit", origin, exc)
            await publish_by_unit(self._publisher, result, origin, self._dead_letter_topic)
        self._count(result)

    @property
    def _dead_letter_topic(self) -> str:
        return self._context.names.dead_letters

    async def _unexpected(self, record: ConsumerRecord, origin: Origin, exc: Exception) -> bool:
        """Dead-letter a delivery whose interpretation raised ``exc``; False: retry it later.

        The letter is the stored record as it is: ``dead-letters reinject`` puts it back once
        the cause is fixed.
        """
        log.exception("CRM interpreter: delivery at %s failed unexpectedly", origin)
        reason = f"unexpected: {type(exc).__name__}: {exc}"[:500]
        vendor = (record.key or b"").decode("utf-8", "replace")
        vendor = vendor if vendor in VENDORS else "?"
        raw = Outgoing("", record.key, record.value or b"")
        letter = fitting_letter(raw, reason, origin, self._dead_letter_topic)
        try:
            await self._publisher.publish([letter])
        except BrokerUnavailable as failure:
            self._failed("broker", failure)
            return False
        label = "unexpected" if letter.value == raw.value else "too_large"
        self._telemetry.dead_letters.labels(vendor, label).inc()
        self.last_error = reason
        return True

    def _count(self, result: Interpretation) -> None:
        vendor, metrics = result.vendor, self._telemetry
        metrics.items.labels(vendor).inc(result.items)
        metrics.published.labels(vendor).inc(result.published)
        for reason, count in result.skipped.items():
            metrics.skipped.labels(vendor, reason).inc(count)
        for reason, count in result.dead_letters.items():
            metrics.dead_letters.labels(vendor, reason).inc(count)
        if result.source_refused:
            metrics.source_fallbacks.labels(vendor).inc()

    def _failed(self, cause: str, exc: Exception) -> None:
        self.last_error = f"{cause} unavailable: {type(exc).__name__}"
        self._telemetry.retries.labels(cause).inc()
        log.warning("CRM interpreter: %s unavailable, retrying: %r", cause, exc)
