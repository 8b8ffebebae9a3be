"""HTTP endpoints of the CRM webhooks: authenticate, adapt, validate, publish, answer.

Each handler follows the same order, so that nothing is published from a delivery that is not
the vendor's, not fresh, or not entirely valid:

1. the vendor is configured (else 404) and the delivery authenticates as the vendor specifies
   (HubSpot signature, Pipedrive HTTP Basic, Salesforce URL token; the organization id, which
   every Outbound Message carries and is no secret, is checked too but authenticates nothing);
2. the body (bounded by the ingest size limit) is decoded and the pure adapter maps it;
3. every native event passes ``validate_event`` and is published like POST /v1/events;
4. only after the broker acknowledged everything: the vendor's 2xx (Salesforce: the SOAP Ack).

Every refusal is counted in ``salespulse_ingest_webhook_refusals_total{vendor, reason}``, the
reason being the refusal's code.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from events.auth import bytes_match, secret_matches
from events.crm import hubspot_signature
from events.crm.common import InvalidDelivery
from events.crm.hubspot import hubspot_events
from events.crm.mapping import CrmMapping
from events.crm.pipedrive import pipedrive_events
from events.crm.salesforce import organization_matches, salesforce_events
from events.crm.salesforce_soap import ACK, CONTENT_TYPE, fault, parse_outbound_message
from events.http_edge import Refusal, publish_acknowledged, read_body, validate_all
from events.ingest_telemetry import IngestTelemetry
from events.models import EventPolicy
from events.publisher import EventPublisher
from events.topics import TopicNames

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}, 413: {}, 422: {}, 503: {}}


def create_webhook_router(
    settings,
    publisher: EventPublisher,
    policy: EventPolicy,
    names: TopicNames,
    telemetry: IngestTelemetry,
    mapping: CrmMapping,
) -> APIRouter:
    """``/v1/webhooks/{hubspot,pipedrive,salesforce}`` for one ingest app."""
    router = APIRouter(prefix="/v1/webhooks", tags=["CRM webhooks"])
    limit = settings.ingest_max_body_bytes

    async def store(events: list[dict]) -> int:
        return await publish_acknowledged(publisher, validate_all(events, policy, names), telemetry)

    @router.post("/hubspot", responses=ERRORS)
    async def hubspot(request: Request) -> dict[str, int]:
        """A HubSpot webhook delivery (JSON array of subscription events), signature-checked."""
        with _counted(telemetry, "hubspot"):
            secret = _configured(settings.hubspot_client_secret, "hubspot")
            body = await read_body(request, limit)
            _check_hubspot(request, body, secret.get_secret_value(), settings, policy)
            events = _adapt(hubspot_events, _json(body), mapping)
            return {"accepted": await store(events)}

    @router.post("/pipedrive", responses=ERRORS)
    async def pipedrive(request: Request) -> dict[str, int]:
        """A Pipedrive webhook (v1 or v2), authenticated by HTTP Basic."""
        with _counted(telemetry, "pipedrive"):
            _check_basic(request, settings.pipedrive_user, settings.pipedrive_password)
            body = await read_body(request, limit)
            events = _adapt(pipedrive_events, _json(body), mapping)
            return {"accepted": await store(events)}

    @router.post("/salesforce", responses=ERRORS, response_class=Response)
    async def salesforce(request: Request) -> Response:
        """A Salesforce Outbound Message (SOAP); answered with the Ack once stored."""
        try:
            with _counted(telemetry, "salesforce"):
                _check_salesforce_url(request, settings)
                body = await read_body(request, limit)
                message = _adapt(parse_outbound_message, body)
                if not organization_matches(
                    settings.salesforce_organization_id, message.organization_id
                ):
                    raise Refusal(
                        403, "wrong_organization", "OrganizationId is not the configured org"
                    )
                zone = ZoneInfo(settings.time_zone)
                events = _adapt(salesforce_events, message, mapping, policy.clock(), zone)
                await store(events)
        except Refusal as refusal:
            side = "Server" if refusal.status >= 500 else "Client"
            return Response(
                fault(side, _fault_text(refusal)), refusal.status, media_type=CONTENT_TYPE
            )
        return Response(ACK, 200, media_type=CONTENT_TYPE)

    return router


def _fault_text(refusal: Refusal) -> str:
    """Code, message and the contract's reasons: the fault is all a Salesforce admin sees."""
    reasons = [r for item in refusal.extra.get("invalid", ()) for r in item["reasons"]]
    text = f"{refusal.code}: {refusal.message}"
    return f"{text} ({'; '.join(reasons)})" if reasons else text


@contextmanager
def _counted(telemetry: IngestTelemetry, vendor: str) -> Iterator[None]:
    try:
        yield
    except Refusal as refusal:
        telemetry.webhook_refusals.labels(vendor, refusal.code).inc()
        raise


def _configured(secret, vendor: str):
    """A vendor whose credentials are not configured has no endpoint: nothing can authenticate."""
    if not secret:
        raise Refusal(404, "not_configured", f"the {vendor} webhook is not configured")
    return secret


def _adapt(adapter: Callable, *args):
    try:
        return adapter(*args)
    except InvalidDelivery as exc:
        raise Refusal(exc.status, exc.code, exc.reason) from exc


def _json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, "invalid_json", f"body is not valid JSON: {exc}") from exc


def _check_hubspot(request: Request, body: bytes, secret: str, settings, policy) -> None:
    uri = _public_uri(request, settings.webhook_public_url)
    try:
        hubspot_signature.verify(
            request.headers,
            secret,
            settings.hubspot_versions,
            request.method,
            uri,
            body,
            policy.clock(),
        )
    except hubspot_signature.SignatureRefused as exc:
        raise Refusal(401, exc.code, exc.message) from exc


def _public_uri(request: Request, public_base: str | None) -> str:
    """The full URI the CRM called: configured public base (behind a proxy) or scheme + Host.

    The path is taken raw (as sent, percent-encodings intact), as HubSpot signs it.
    """
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1")
    query = request.url.query
    base = (
        public_base.rstrip("/") if public_base else f"{request.url.scheme}://{request.url.netloc}"
    )
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def _check_basic(request: Request, user: str | None, password) -> None:
    if not user or not password:
        raise Refusal(404, "not_configured", "the pipedrive webhook is not configured")
    given = _basic_credentials(request.headers.get("authorization", ""))
    expected = (user.encode(), password.get_secret_value().encode())
    # Both comparisons always run, on digests: timing says nothing about which half was wrong,
    # nor about the lengths of the configured user and password.
    ok = given is not None and all(
        [bytes_match(given[0], expected[0]), bytes_match(given[1], expected[1])]
    )
    if not ok:
        raise Refusal(
            401,
            "unauthorized",
            "missing or wrong HTTP Basic credentials",
            headers={"WWW-Authenticate": 'Basic realm="salespulse"'},
        )


def _basic_credentials(header: str) -> tuple[bytes, bytes] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


def _check_salesforce_url(request: Request, settings) -> None:
    """The endpoint URL's ``?token=`` is the only secret of an Outbound Message: always required.

    Settings refuse an org id without a token; a settings object built around that check still
    gets no endpoint (404) rather than one that authenticates nothing.
    """
    _configured(settings.salesforce_organization_id, "salesforce")
    token = settings.salesforce_token
    secret = token.get_secret_value() if token is not None else ""
    if not secret:
        raise Refusal(404, "not_configured", "the salesforce webhook is not configured (no token)")
    if not secret_matches(request.query_params.get("token"), secret):
        raise Refusal(401, "unauthorized", "missing or wrong ?token= in the endpoint URL")
