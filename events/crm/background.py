"""The CRM side of the ingest process: its deal sources and its delivery interpreter.

Started and stopped with the ingest app (its lifespan). The deal sources (one per vendor whose
API is configured, ``events.crm.sources``) each own an HTTP client; they are closed on the way
out, after the interpreter that uses them has stopped.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from events.crm.deal_source import DealSource
from events.crm.interpretation import Context
from events.crm.interpreter import DeliveryInterpreter, enrichment, interpreter_group
from events.crm.mapping import CrmMapping
from events.crm.sources import deal_sources
from events.ingest_telemetry import IngestTelemetry
from events.kafka_security import kafka_client_options
from events.models import EventPolicy
from events.publisher import EventPublisher
from events.settings import Settings
from events.topics import TopicNames

log = logging.getLogger(__name__)


class CrmBackground:
    """The deal sources and the running delivery interpreter of one ingest process."""

    def __init__(self, sources: dict[str, DealSource], interpreter: DeliveryInterpreter) -> None:
        self.sources, self.interpreter = sources, interpreter

    @classmethod
    def start(
        cls,
        settings: Settings,
        publisher: EventPublisher,
        policy: EventPolicy,
        names: TopicNames,
        telemetry: IngestTelemetry,
        mapping: CrmMapping,
    ) -> CrmBackground:
        """Create the sources, start the interpreter; log which KPIs HubSpot deals miss."""
        sources = deal_sources(settings, mapping)
        context = Context(mapping, policy, names, ZoneInfo(settings.time_zone), sources)
        interpreter = DeliveryInterpreter(
            bootstrap_servers=settings.bootstrap_servers,
            topic=names.crm_deliveries,
            group=interpreter_group(settings.topic_prefix),
            publisher=publisher,
            context=context,
            telemetry=telemetry.crm,
            client_options=kafka_client_options(settings),
            max_pause_s=settings.crm_interpreter_retry_max_s,
        )
        interpreter.enrichment = enrichment(settings, sources)
        if interpreter.enrichment.get("hubspot_kpis_empty"):
            log.warning(
                "HubSpot webhooks without HubSpot API access: deals get no customer and no "
                "deal.created, so these KPIs stay empty for HubSpot deals: %s (docs/CRM.md)",
                ", ".join(interpreter.enrichment["hubspot_kpis_empty"]),
            )
        interpreter.start()
        return cls(sources, interpreter)

    async def stop(self) -> None:
        """Stop the interpreter, then close every source (each even if another fails)."""
        try:
            await self.interpreter.stop()
        finally:
            for vendor, source in self.sources.items():
                try:
                    await source.close()
                except Exception:
                    log.exception("closing the %s API client failed", vendor)

    def health(self) -> dict[str, Any]:
        """For /readyz: the interpreter's state and what API access this process has."""
        return {**self.interpreter.health(), **self.interpreter.enrichment}
