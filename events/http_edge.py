"""The HTTP edge's shared steps: refuse with a JSON error, read a bounded body, validate, publish.

POST /v1/events and the CRM webhooks (``events.crm.router``) both end the same way: every native
event passes ``validate_event``, is routed by ``route`` and published by ``EventPublisher.publish``
(acks=all), all or nothing. Keeping those steps here, once, is what guarantees that a webhook can
never put onto the log anything the native API would refuse.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from events.codec import encode_event
from events.ingest_telemetry import IngestTelemetry
from events.models import EventPolicy, InvalidEvent, validate_event
from events.publisher import BrokerUnavailable, EventPublisher, Outgoing
from events.topics import TopicNames, route


class Refusal(Exception):
    """A request the API answers with a 4xx/5xx JSON error instead of 2xx.

    ``code`` is a stable machine-readable word (also the ``reason`` label of webhook refusals);
    ``headers`` lets a refusal carry e.g. ``WWW-Authenticate``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": self.code, "message": self.message, **self.extra}},
            status_code=self.status,
            headers=self.headers,
        )


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds ``limit`` (never buffered past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refusal(413, "too_large", f"request body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refusal(413, "too_large", f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def validate_all(items: list[Any], policy: EventPolicy, names: TopicNames) -> list[Outgoing]:
    """Every item as an outgoing record, or a 422 listing each invalid one (nothing published)."""
    outgoing, invalid = [], []
    for index, item in enumerate(items):
        try:
            event = validate_event(item, policy)
        except InvalidEvent as exc:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            invalid.append({"index": index, "event_id": event_id, "reasons": exc.reasons})
            continue
        topic, key = route(event, names)
        outgoing.append(Outgoing(topic, key, encode_event(item)))
    if invalid:
        raise Refusal(
            422,
            "invalid_events",
            f"{len(invalid)} of {len(items)} events are invalid; nothing was published",
            invalid=invalid,
        )
    return outgoing


async def publish_acknowledged(
    publisher: EventPublisher, outgoing: list[Outgoing], telemetry: IngestTelemetry
) -> int:
    """Publish and return the count once the broker acknowledged all; 503 otherwise."""
    if not outgoing:
        return 0
    try:
        with telemetry.broker_ack.time():
            await publisher.publish(outgoing)
    except BrokerUnavailable as exc:
        raise Refusal(
            503, "broker_unavailable", "events were not stored; retry later", detail=str(exc)
        ) from exc
    telemetry.accepted.inc(len(outgoing))
    return len(outgoing)
