"""Ingest metrics (docs/METRICS.md): requests by answer, events accepted, broker ack latency,
CRM webhook refusals by vendor and reason, and what the CRM delivery interpreter made of the
deliveries (items, events published, skips and dead letters by reason, retries)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_asgi_app
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

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
        self.crm = CrmTelemetry(registry)
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


def metrics_route(registry: CollectorRegistry) -> Route:
    """GET /metrics: ``registry`` served by prometheus_client's own ASGI app."""
    return _AsgiRoute("/metrics", make_asgi_app(registry=registry))


class _AsgiRoute(Route):
    """GET ``path`` answered by an ASGI app: exactly there (a mount answers ``path`` with a
    redirect to ``path/``), and outside the OpenAPI document.

    FastAPI's router names only its own routes in the scope; this one names itself, so that the
    request counter labels its answers with its path like any other.
    """

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, _AsgiEndpoint(app), methods=["GET"], include_in_schema=False)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await super().handle(scope, receive, send)


class _AsgiEndpoint:
    """Starlette calls a function endpoint as ``f(request)``; an object is served as ASGI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class CrmTelemetry:
    """The CRM delivery path: stored deliveries, then what the interpreter made of each item.

    Labels are bounded: vendors are three, skip reasons are the adapters' codes and dead-letter
    reasons the contract's field names or ``invalid_payload``.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "salespulse_ingest_crm_deliveries",
            "CRM webhook deliveries stored on the raw-deliveries topic (acknowledged to the CRM)",
            ["vendor"],
            registry=registry,
        )
        self.items = Counter(
            "salespulse_ingest_crm_items",
            "Items (events, webhooks, notifications) of the deliveries interpreted",
            ["vendor"],
            registry=registry,
        )
        self.published = Counter(
            "salespulse_ingest_crm_events_published",
            "Native events published from CRM deliveries",
            ["vendor"],
            registry=registry,
        )
        self.skipped = Counter(
            "salespulse_ingest_crm_items_skipped",
            "Items the product does not use (deletions, association changes, ...), by reason",
            ["vendor", "reason"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "salespulse_ingest_crm_dead_letters",
            "Dead letters written for items that cannot become valid events, by reason",
            ["vendor", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "salespulse_ingest_crm_retries",
            "Deliveries the interpreter must try again (broker or vendor API unavailable)",
            ["cause"],
            registry=registry,
        )
        self.source_fallbacks = Counter(
            "salespulse_ingest_crm_source_fallbacks",
            "Deliveries interpreted from their own content because the vendor API refused",
            ["vendor"],
            registry=registry,
        )
        self.pending = Gauge(
            "salespulse_ingest_crm_deliveries_pending",
            "Deliveries on the raw-deliveries topic not interpreted yet (this process' partitions)",
            registry=registry,
        )
