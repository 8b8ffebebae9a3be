"""HTTP endpoints of the CRM webhooks: authenticate, store the delivery as it came, answer.

Each handler follows the same order, so that nothing is written from a delivery that is not the
vendor's, not fresh, or unusable as a whole:

1. the vendor is configured (else 404) and the delivery authenticates as the vendor specifies
   (HubSpot signature, Pipedrive HTTP Basic, Salesforce URL token; the organization id, which
   every Outbound Message carries and is no secret, is checked too but authenticates nothing);
2. the body (bounded by the ingest size limit) is decoded and checked as a whole: JSON (XML for
   Salesforce) shaped like the vendor's deliveries, at most 100 items;
3. it is written as it came, as one record of the raw-deliveries topic (``events.crm.deliveries``,
   acks=all), within ``webhook_ack_timeout_s``: well inside the vendors' own timeouts;
4. once that record is acknowledged: the vendor's 2xx (Salesforce: the SOAP Ack). Past the
   deadline, or without a broker: 503, and the vendor retries (a repeat is harmless: event ids
   come from the deals' state).

Items are turned into native events afterwards, one by one, by the delivery interpreter
(``events.crm.interpreter``): an item that cannot be mapped becomes a dead letter, never a
refusal of its delivery. Every refusal is counted in
``salespulse_ingest_webhook_refusals_total{vendor, reason}``, the reason being the refusal's code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.requests import HTTPConnection

from events.auth import bytes_match, secret_matches
from events.crm import hubspot_items, hubspot_signature, pipedrive
from events.crm.common import InvalidDelivery
from events.crm.deliveries import delivery_record, received
from events.crm.salesforce import organization_matches
from events.crm.salesforce_soap import ACK, CONTENT_TYPE, fault, parse_outbound_message
from events.errors import Unavailable, http_status
from events.http_edge import BROKER_UNAVAILABLE, Refusal, read_body
from events.ingest_telemetry import IngestTelemetry
from events.models import EventPolicy
from events.publisher import (
    MAX_RECORD_BYTES,
    BrokerUnavailable,
    EventPublisher,
    RecordTooLarge,
    record_size,
)
from events.settings import Settings
from events.topics import TopicNames

log = logging.getLogger(__name__)

ERRORS = {400: {}, 401: {}, 403: {}, 404: {}, 413: {}, 422: {}, 503: {}}
ENVELOPE_ROOM = 16 * 1024
"""Bytes a stored delivery may need besides its body (JSON envelope, escaping, and the headers
of a dead letter holding it): the body must leave that much of Kafka's record limit free."""


class _BasicOrNone(HTTPBasic):
    """``HTTPBasic(auto_error=False)``, with None for credentials it cannot decode too.

    HTTPBasic itself refuses those before the handler runs: an unconfigured webhook would then
    answer 401 rather than 404, and the refusal would escape the metrics. Here the handler
    refuses, as for every other delivery.
    """

    async def __call__(self, request: HTTPConnection) -> HTTPBasicCredentials | None:
        try:
            return await super().__call__(request)
        except HTTPException:
            return None


PIPEDRIVE_BASIC = _BasicOrNone(scheme_name="basic", realm="salespulse", auto_error=False)
PipedriveCredentials = Annotated[HTTPBasicCredentials | None, Security(PIPEDRIVE_BASIC)]
"""Pipedrive's HTTP Basic credentials as sent, if any (the OpenAPI document declares the scheme)."""


def create_webhook_router(
    settings: Settings,
    publisher: EventPublisher,
    policy: EventPolicy,
    names: TopicNames,
    telemetry: IngestTelemetry,
) -> APIRouter:
    """``/v1/webhooks/{hubspot,pipedrive,salesforce}`` for one ingest app."""
    router = APIRouter(prefix="/v1/webhooks", tags=["CRM webhooks"])
    limit = settings.ingest_max_body_bytes

    async def store(vendor: str, request: Request, body: bytes) -> str:
        """Write the delivery as it came; its id once the broker acknowledged it."""
        delivery = received(vendor, body, request.headers, policy.clock())
        record = delivery_record(delivery, names.crm_deliveries)
        if record_size(record) + ENVELOPE_ROOM > MAX_RECORD_BYTES:
            raise Refusal(413, "too_large", "the delivery is too large to store")
        try:
            with telemetry.broker_ack.time():
                async with asyncio.timeout(settings.webhook_ack_timeout_s):
                    await publisher.publish([record])
        except RecordTooLarge as exc:  # the body is the record: the size check's answer above
            raise Refusal(413, "too_large", "the delivery is too large to store") from exc
        except (BrokerUnavailable, TimeoutError) as exc:  # no ack in time: the broker's outage
            status = Unavailable.http_status
            log.warning("%s delivery not stored, answering %d: %r", vendor, status, exc)
            raise Refusal(status, "broker_unavailable", BROKER_UNAVAILABLE) from exc
        telemetry.crm.deliveries.labels(vendor).inc()
        return delivery.delivery_id

    @router.post("/hubspot", responses=ERRORS)
    async def hubspot_delivery(request: Request) -> dict[str, str | int]:
        """A HubSpot webhook delivery (JSON array of subscription events), signature-checked."""
        with _counted(telemetry, "hubspot"):
            secret = _configured(settings.hubspot_client_secret, "hubspot")
            body = await read_body(request, limit)
            _check_hubspot(request, body, secret.get_secret_value(), settings, policy)
            items = _adapt(hubspot_items.check_delivery, _json(body))
            return {"delivery_id": await store("hubspot", request, body), "items": len(items)}

    @router.post("/pipedrive", responses=ERRORS)
    async def pipedrive_delivery(
        request: Request, given: PipedriveCredentials
    ) -> dict[str, str | int]:
        """A Pipedrive webhook (v1 or v2), authenticated by HTTP Basic."""
        with _counted(telemetry, "pipedrive"):
            _check_basic(given, settings.pipedrive_user, settings.pipedrive_password)
            body = await read_body(request, limit)
            _adapt(pipedrive.check_delivery, _json(body))
            return {"delivery_id": await store("pipedrive", request, body), "items": 1}

    @router.post("/salesforce", responses=ERRORS, response_class=Response)
    async def salesforce_delivery(request: Request) -> Response:
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
                await store("salesforce", request, body)
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
        raise Refusal(http_status(exc), exc.code, exc.reason) from exc


def _json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, "invalid_json", f"body is not valid JSON: {exc}") from exc


def _check_hubspot(request: Request, body: bytes, secret: str, settings: Settings, policy) -> None:
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
        raise Refusal(http_status(exc), exc.code, exc.message) from exc


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


def _check_basic(given: HTTPBasicCredentials | None, user: str | None, password) -> None:
    if not user or not password:
        raise Refusal(404, "not_configured", "the pipedrive webhook is not configured")
    sent = (given.username, given.password) if given is not None else ("", "")
    # Both comparisons always run, on digests: timing says nothing about which half was wrong,
    # nor about the lengths of the configured user and password.
    ok = given is not None and all(
        [
            bytes_match(sent[0].encode(), user.encode()),
            bytes_match(sent[1].encode(), password.get_secret_value().encode()),
        ]
    )
    if not ok:
        raise Refusal(
            401,
            "unauthorized",
            "missing or wrong HTTP Basic credentials",
            headers=PIPEDRIVE_BASIC.make_authenticate_headers(),
        )


def _check_salesforce_url(request: Request, settings: Settings) -> None:
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
