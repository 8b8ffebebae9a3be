"""The native ingest API (contract section 6): JSON events in, acknowledged Kafka records out.

Validation is all-or-nothing per request: one bad event and nothing of the request is published,
so a client can fix and resend the whole batch. Every refusal is a JSON body
``{"error": {"code", "message", ...}}``; no input can make a handler raise.

The same app receives CRM webhooks (``/v1/webhooks/{hubspot,pipedrive,salesforce}``, see
``events.crm``): they are turned into native events here, at the edge, and published through the
same validation and publishing steps (``events.http_edge``).
"""

from __future__ import annotations

import hmac
import logging
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from events.crm.mapping import load_mapping
from events.crm.router import create_webhook_router
from events.http_edge import Refusal, publish_acknowledged, read_body, validate_all

__all__ = ["Refusal", "create_ingest_app"]
from events.ingest_telemetry import IngestTelemetry
from events.models import EventPolicy
from events.publisher import BrokerUnavailable, EventPublisher
from events.topics import TopicNames

log = logging.getLogger(__name__)

EVENTS_BODY_SCHEMA = {
    "description": "One native event object, or an array of 1 to 1000 of them.",
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/NativeEvent"},
                    {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/NativeEvent"},
                        "minItems": 1,
                        "maxItems": 1000,
                    },
                ]
            }
        }
    },
}


def create_ingest_app(
    settings, publisher: EventPublisher | None = None, registry: CollectorRegistry | None = None
) -> FastAPI:
    """Build the ingest app for ``settings``; ``publisher`` and ``registry`` are injectable."""
    names = TopicNames(settings.topic_prefix)
    registry = registry if registry is not None else CollectorRegistry()
    telemetry = IngestTelemetry(registry)
    policy = EventPolicy(reporting_currency=settings.reporting_currency)
    publisher = publisher or EventPublisher(
        settings.bootstrap_servers, settings.ingest_ack_timeout_s
    )
    # Loaded now so that a broken mapping file stops the process at start, not at the first call.
    mapping = load_mapping(settings.crm_mapping_file)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        await publisher.close()

    app = FastAPI(title="salespulse ingest", version="1", lifespan=lifespan)
    app.state.publisher = publisher
    app.state.registry = registry
    telemetry.instrument(app)

    @app.exception_handler(Refusal)
    async def _refused(_: Request, exc: Refusal) -> JSONResponse:
        return exc.response()

    @app.post(
        "/v1/events",
        status_code=202,
        openapi_extra={"requestBody": EVENTS_BODY_SCHEMA},
        responses={400: {}, 401: {}, 413: {}, 422: {}, 503: {}},
    )
    async def post_events(request: Request) -> dict[str, int]:
        """Validate every event, publish all of them, answer once the broker acknowledged all."""
        _authorize(request, settings.ingest_token)
        body = await read_body(request, settings.ingest_max_body_bytes)
        items = _event_list(body, settings.ingest_max_batch)
        outgoing = validate_all(items, policy, names)
        return {"accepted": await publish_acknowledged(publisher, outgoing, telemetry)}

    app.include_router(
        create_webhook_router(settings, publisher, policy, names, telemetry, mapping)
    )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {}})
    async def readyz() -> dict[str, str]:
        try:
            await publisher.check()
        except BrokerUnavailable as exc:
            raise Refusal(503, "broker_unavailable", str(exc)) from exc
        return {"status": "ready"}

    _document_event_schema(app)
    return app


def _authorize(request: Request, token: str | None) -> None:
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Refusal(401, "unauthorized", "missing or wrong 'Authorization: Bearer <token>'")


def _event_list(body: bytes, max_batch: int) -> list[Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, "invalid_json", f"body is not valid JSON: {exc}") from exc
    if isinstance(parsed, dict):
        return [parsed]
    if not isinstance(parsed, list):
        raise Refusal(400, "invalid_body", "body must be an event object or an array of events")
    if not parsed:
        raise Refusal(422, "empty_batch", "an array must hold at least one event")
    if len(parsed) > max_batch:
        raise Refusal(413, "batch_too_large", f"at most {max_batch} events per request")
    return parsed


def _document_event_schema(app: FastAPI) -> None:
    """Put the native event union into the OpenAPI spec the body schema refers to."""
    from events.models import event_json_schema

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        event_schema = event_json_schema()
        components.update(event_schema.pop("$defs", {}))
        components["NativeEvent"] = event_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
