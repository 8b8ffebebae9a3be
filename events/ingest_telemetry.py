"""Ingest metrics (docs/METRICS.md): requests by answer, events accepted, broker ack latency,
CRM webhook refusals by vendor and reason."""

from __future__ import annotations

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram

from events.build_info import register_build_info

ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15)


class IngestTelemetry:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "salespulse_ingest_requests",
            "HTTP requests by path and status",
            ["path", "status"],
            registry=registry,
        )
        self.accepted = Counter(
            "salespulse_ingest_events_accepted",
            "Events acknowledged by the broker",
            registry=registry,
        )
        self.broker_ack = Histogram(
            "salespulse_ingest_broker_ack_seconds",
            "Publish-to-acknowledgement time of a request's events",
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self.webhook_refusals = Counter(
            "salespulse_ingest_webhook_refusals",
            "CRM webhook deliveries refused (nothing published), by vendor and reason",
            ["vendor", "reason"],
            registry=registry,
        )
        register_build_info(registry)

    def instrument(self, app: FastAPI) -> None:
        """Count every answer by its route template (bounded), whatever produced it."""

        @app.middleware("http")
        async def count_requests(request: Request, call_next):
            response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.requests.labels(path, str(response.status_code)).inc()
            return response
