"""The HTTP edge's shared steps: refuse with a JSON error, read a bounded body, validate, publish.

POST /v1/events and the CRM webhooks (``events.crm.router``) both end the same way: every native
event passes ``validate_event``, is routed by ``route`` and published by ``EventPublisher.publish``
(acks=all), all or nothing. Keeping those steps here, once, is what guarantees that a webhook can
never put onto the log anything the native API would refuse.

A 503 means "retry later", so it is kept for what a retry can fix (the broker did not answer), and
says nothing of the broker's addresses: those go to the log. What can never be stored, such as an
event over Kafka's size limit, is a 4xx naming the event.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from events._fields import MAX_ID_LENGTH
from events.codec import encode_event
from events.errors import InvalidInput, SalespulseError, Unavailable, http_status
from events.ingest_telemetry import IngestTelemetry
from events.models import EventPolicy, InvalidEvent, validate_event
from events.publisher import (
    BrokerUnavailable,
    EventPublisher,
    Outgoing,
    RecordTooLarge,
    oversize_reason,
)
from events.topics import TopicNames, route

log = logging.getLogger(__name__)

BROKER_UNAVAILABLE = (
    "the broker did not acknowledge the events, some may still be stored; retry them all later: "
    "a repeated event_id counts once"
)
"""The whole 503 answer: the cause (with the broker's addresses) is logged, never sent."""


class Refusal(SalespulseError):
    """A request the API answers with a 4xx/5xx JSON error instead of 2xx.

    ``code`` is a stable machine-readable word (also the ``reason`` label of webhook refusals);
    ``headers`` lets a refusal carry e.g. ``WWW-Authenticate``. Its status is its own, chosen
    where it is raised (from ``http_status`` when it translates an error of the tree).
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

    @property
    def http_status(self) -> int:
        return self.status

    @property
    def exit_code(self) -> int:
        """A tool that meets one: unavailable when the server could not answer (5xx)."""
        return Unavailable.exit_code if self.status >= 500 else InvalidInput.exit_code

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": self.code, "message": self.message, **self.extra}},
            status_code=self.status,
            headers=self.headers,
        )


BODY_TIMEOUT_STATE = "body_timeout_s"
"""``app.state`` attribute: seconds a client has to send the whole body (unset: no deadline)."""

CLOSE = {"Connection": "close"}
"""Header of a refusal sent before the body was read whole: the rest of it is never read, so the
connection cannot carry another request (and a slow client cannot hold it)."""

_LONGEST_LENGTH = 19  # digits: anything longer is over any limit (and past int()'s comfort zone)


def declared_length(request: Request) -> int | None:
    """The request's Content-Length as a number; None when absent or not a plain decimal.

    A value the HTTP server let through is still checked: only ASCII digits count (``"²"`` and
    ``"١٢"`` are ``isdigit()``), and a huge one is capped instead of converted digit by digit.
    """
    declared = request.headers.get("content-length")
    if declared is None or not (declared.isascii() and declared.isdigit()):
        return None
    digits = declared.lstrip("0") or "0"
    return int(digits) if len(digits) <= _LONGEST_LENGTH else 10**_LONGEST_LENGTH


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds ``limit`` (never buffered past it).

    Whatever Content-Length says (absent, chunked, lying), the bytes are counted as they arrive.
    A body that is not complete within the app's ``body_timeout_s`` is refused with 408. Both
    refusals close the connection. A client that hangs up mid-body gets (were it still there)
    499, nginx's "client closed request": its own doing, not a server error.
    """
    too_large = Refusal(413, "too_large", f"request body exceeds {limit} bytes", headers=CLOSE)
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise too_large
    timeout_s = getattr(request.app.state, BODY_TIMEOUT_STATE, None)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise Refusal(
            408,
            "body_timeout",
            f"the request body did not arrive within {timeout_s:g} s",
            headers=CLOSE,
        ) from None
    except ClientDisconnect:
        raise Refusal(
            499, "client_disconnected", "the client closed the connection mid-body"
        ) from None
    return b"".join(chunks)


def validate_all(items: list[Any], policy: EventPolicy, names: TopicNames) -> list[Outgoing]:
    """Every item as an outgoing record, or a 422 listing each invalid one (nothing published).

    Invalid includes too large for Kafka: every record is sized here, before anything is sent.
    """
    outgoing, invalid = [], []
    for index, item in enumerate(items):
        try:
            record = outgoing_record(item, policy, names)
        except InvalidEvent as exc:
            invalid.append({"index": index, "event_id": _echoed_id(item), "reasons": exc.reasons})
            continue
        outgoing.append(record)
    if invalid:
        raise Refusal(
            InvalidEvent.http_status,
            "invalid_events",
            f"{len(invalid)} of {len(items)} events are invalid; nothing was published",
            invalid=invalid,
        )
    return outgoing


def outgoing_record(item: Any, policy: EventPolicy, names: TopicNames) -> Outgoing:
    """The record of a valid event that Kafka can store; InvalidEvent saying why not.

    The one validation of every native event, whichever way it came in (POST /v1/events, the
    CRM delivery interpreter)."""
    event = validate_event(item, policy)
    topic, key = route(event, names)
    record = Outgoing(topic, key, _stored_form(item))
    reason = oversize_reason(record)
    if reason is not None:
        raise InvalidEvent([reason])
    return record


def _stored_form(item: dict) -> bytes:
    """The bytes published for a valid event, or InvalidEvent when it has no JSON form.

    orjson reads 1024 levels of nesting but writes only 254, so an event with a deeply nested
    extra field passes validation yet cannot be stored; Python callers can also hand over
    strings with lone surrogates or integers past 64 bits.
    """
    try:
        return encode_event(item)
    except orjson.JSONEncodeError as exc:
        raise InvalidEvent([f"event: cannot be stored as JSON ({_cut(str(exc))})"]) from None


def _echoed_id(item: object) -> str | None:
    """The ``event_id`` an invalid event is listed with: only a plausible id is echoed back.

    Anything else (a huge string, a deeply nested array, a number) would make the error as
    large as the payload, or impossible to encode.
    """
    event_id = item.get("event_id") if isinstance(item, dict) else None
    if isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID_LENGTH and _encodable(event_id):
        return event_id
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only Python callers can build them
        return False
    return True


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def publish_acknowledged(
    publisher: EventPublisher, outgoing: list[Outgoing], telemetry: IngestTelemetry
) -> int:
    """Publish and return the count once the broker acknowledged all.

    503 when the broker did not answer (a retry may succeed); 422 when it refused an event as too
    large (no retry can), which ``validate_all`` normally catches before anything is sent.
    """
    if not outgoing:
        return 0
    try:
        with telemetry.broker_ack.time():
            await publisher.publish(outgoing)
    except RecordTooLarge as exc:
        raise _too_large(exc) from exc
    except BrokerUnavailable as exc:
        log.warning("answering %d: %s", http_status(exc), exc)
        raise Refusal(http_status(exc), "broker_unavailable", BROKER_UNAVAILABLE) from exc
    telemetry.accepted.inc(len(outgoing))
    return len(outgoing)


def _too_large(exc: RecordTooLarge) -> Refusal:
    stored = (
        "events before it may be stored (a repeated event_id counts once)"
        if exc.partial
        else "nothing was published"
    )
    return Refusal(
        http_status(exc),
        "event_too_large",
        f"event {exc.index} is too large for the broker; {stored}: resend the others without it",
        invalid=[{"index": exc.index, "event_id": None, "reasons": [exc.reason]}],
    )
