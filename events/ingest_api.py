"""The native ingest API (contract section 6): JSON events in, acknowledged Kafka records out.

Validation is all-or-nothing per request: one bad event and nothing of the request is published,
so a client can fix and resend the whole batch. Every refusal is a JSON body
``{"error": {"code", "message", ...}}``; no input can make a handler raise.

The same app receives CRM webhooks (``/v1/webhooks/{hubspot,pipedrive,salesforce}``, see
``events.crm``): each delivery is stored as it came on the raw-deliveries topic, and the app's
delivery interpreter (started and stopped with the app) turns its items into native events
through the same validation (``events.http_edge``).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request, Security, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.auth import BEARER_CHALLENGE, secret_matches
from events.crm.background import CrmBackground
from events.crm.mapping import load_mapping
from events.crm.router import create_webhook_router
from events.errors import http_status
from events.http_edge import (
    BODY_TIMEOUT_STATE,
    Refusal,
    publish_acknowledged,
    read_body,
    validate_all,
)

__all__ = ["Refusal", "create_ingest_app"]
from events.ingest_telemetry import IngestTelemetry, metrics_route
from events.policy import event_policy
from events.publisher import BrokerUnavailable, EventPublisher
from events.settings import Settings
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


BEARER = HTTPBearer(scheme_name="bearer", auto_error=False)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)]
"""``Authorization: Bearer <credentials>`` as sent, if any (the OpenAPI scheme ``bearer``)."""


def create_ingest_app(
    settings: Settings,
    publisher: EventPublisher | None = None,
    registry: CollectorRegistry | None = None,
) -> FastAPI:
    """Build the ingest app for ``settings``; ``publisher`` and ``registry`` are injectable."""
    names = TopicNames(settings.topic_prefix)
    registry = registry if registry is not None else CollectorRegistry()
    telemetry = IngestTelemetry(registry)
    policy = event_policy(settings)
    publisher = publisher or EventPublisher.from_settings(settings)
    # Loaded now so that a broken mapping file stops the process at start, not at the first call.
    mapping = load_mapping(settings.crm_mapping_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        crm = CrmBackground.start(settings, publisher, policy, names, telemetry, mapping)
        app.state.crm = crm
        try:
            yield
        finally:
            app.state.crm = None
            try:
                await crm.stop()
            finally:
                await publisher.close()

    app = FastAPI(title="salespulse ingest", version="1", lifespan=lifespan)
    app.state.crm = None
    app.state.publisher = publisher
    app.state.registry = registry
    setattr(app.state, BODY_TIMEOUT_STATE, settings.ingest_body_timeout_s)
    telemetry.instrument(app)
    _answer_every_refusal_in_json(app)

    @app.post(
        "/v1/events",
        status_code=202,
        openapi_extra={"requestBody": EVENTS_BODY_SCHEMA},
        responses={400: {}, 401: {}, 413: {}, 422: {}, 503: {}},
        dependencies=_token_required(settings.ingest_token),
    )
    async def post_events(request: Request) -> dict[str, int]:
        """Validate every event, publish all of them, answer once the broker acknowledged all."""
        body = await read_body(request, settings.ingest_max_body_bytes)
        items = _event_list(body, settings.ingest_max_batch)
        outgoing = validate_all(items, policy, names)
        return {"accepted": await publish_acknowledged(publisher, outgoing, telemetry)}

    app.include_router(create_webhook_router(settings, publisher, policy, names, telemetry))
    app.router.routes.append(metrics_route(registry))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {}})
    async def readyz() -> dict[str, Any]:
        """Ready when the broker answers and the CRM interpreter runs (else 503, with why)."""
        try:
            await publisher.check()
        except BrokerUnavailable as exc:
            log.warning("not ready: %s", exc)  # the addresses stay in the log
            raise Refusal(
                http_status(exc), "broker_unavailable", "the broker is not reachable"
            ) from exc
        crm = app.state.crm
        if crm is None:
            return {"status": "ready"}
        health = crm.health()
        if not health.get("running"):
            reason = f"the CRM interpreter is not running ({health.get('last_error')})"
            log.warning("not ready: %s", reason)
            return JSONResponse({"status": "not_ready", "reason": reason, "crm": health}, 503)
        return {"status": "ready", "crm": health}

    _complete_openapi(app)
    return app


def _answer_every_refusal_in_json(app: FastAPI) -> None:
    """Every refusal is ``{"error": {"code", "message", ...}}``: ours, the framework's, a crash."""

    @app.exception_handler(Refusal)
    async def _refused(_: Request, exc: Refusal) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown path (404), wrong method (405, with its Allow header), ...
        code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        return Refusal(exc.status_code, code, str(exc.detail), headers=exc.headers).response()

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return Refusal(400, "bad_request", "the request does not match the API").response()

    @app.exception_handler(Exception)
    async def _crashed(_: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after answering, so the server still logs the traceback.
        return Refusal(
            500,
            "internal_error",
            "the request could not be handled; retrying it is safe (a repeated event_id has no "
            "effect)",
        ).response()


def _token_required(token: SecretStr | None) -> list[params.Depends]:
    """Only ``Bearer <token>`` passes (constant time); no token, no dependency nor scheme in the
    spec. With no bearer header (``auto_error=False``) the refusal is ours: JSON, our challenge."""
    if token is None:
        return []

    async def require_token(given: BearerCredentials) -> None:
        if not secret_matches(given.credentials if given else None, token.get_secret_value()):
            message = "missing or wrong 'Authorization: Bearer <token>'"
            challenge = {"WWW-Authenticate": BEARER_CHALLENGE}
            raise Refusal(401, "unauthorized", message, headers=challenge)

    return [Depends(require_token)]


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


ERROR_SCHEMA = {
    "title": "Error",
    "description": "Every refusal: a stable machine-readable code and a sentence for people. "
    "A 422 from POST /v1/events also lists each invalid event with its reasons.",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "invalid": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "event_id", "reasons"],
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "event_id": {"type": ["string", "null"]},
                            "reasons": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        }
    },
}
_JSON = "application/json"
_EVENTS_REF = "#/$defs/"
_COMPONENTS_REF = "#/components/schemas/"


def _complete_openapi(app: FastAPI) -> None:
    """Finish the spec FastAPI derives: the event schemas, error bodies, 408.

    * the native event union goes under ``components/schemas`` (``NativeEvent`` and one schema
      per event type), with its references rewritten to point there;
    * every error answer of an operation that answers JSON is documented as ``Error``;
    * operations that read a bounded body (they document 413) may also answer 408.

    Security schemes are the ones the routes' ``fastapi.security`` dependencies declare.
    """
    from events.models import event_json_schema

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        event_schema = _rewrite_refs(event_json_schema())
        schemas.update(event_schema.pop("$defs", {}))
        schemas["NativeEvent"] = event_schema
        schemas["Error"] = ERROR_SCHEMA
        for operation in _operations(schema):
            _document_errors(operation["responses"])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _rewrite_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic refers to ``#/$defs/X``; in the OpenAPI document they live at components."""
    text = orjson.dumps(schema).decode()
    return orjson.loads(text.replace(f'"{_EVENTS_REF}', f'"{_COMPONENTS_REF}'))


def _operations(schema: dict[str, Any]):
    for path_item in schema.get("paths", {}).values():
        yield from (op for op in path_item.values() if isinstance(op, dict) and "responses" in op)


def _document_errors(responses: dict[str, Any]) -> None:
    answers_json = any(
        code.startswith("2") and _JSON in (answer.get("content") or {})
        for code, answer in responses.items()
    )
    if not answers_json:  # e.g. Salesforce's SOAP endpoint: its errors are SOAP faults
        return
    if "413" in responses:
        responses.setdefault("408", {"description": "Request Timeout"})
    for code, answer in responses.items():
        if code[0] in "45" and not answer.get("content"):
            answer["content"] = {_JSON: {"schema": {"$ref": f"{_COMPONENTS_REF}Error"}}}
