"""CRM webhook deliveries as records of the raw-deliveries topic (``sales.crm-deliveries``).

A delivery that authenticates is written as it came, before anything interprets it: the vendor
gets its 2xx once this one record is acknowledged, and the interpreter
(``events.crm.interpreter``) turns it into native events afterwards, as often as needed.

The record's key is the vendor; its value is UTF-8 JSON::

    {"format": 1, "vendor": "hubspot", "delivery_id": "…", "received_at": "2026-…Z",
     "headers": {"content-type": "application/json"}, "body": "<the body as it came>"}

``body`` holds the bytes as text when they are UTF-8 (every vendor sends UTF-8), else
``body_base64`` holds them. ``headers`` keeps only what interpreting may need and nothing that
authenticates: never a signature, ``Authorization`` or the Salesforce URL token. The body is the
one that came except for a Salesforce Outbound Message's ``SessionId``, ``EnterpriseUrl`` and
``PartnerUrl`` (sent when "Send Session ID" is on): a live API session and where to use it, which
the interpreter does not need, so their text is emptied before the record is written.

A dead letter of an item holds a delivery of the same shape whose body is that item (with the
other items of its deal), so that ``salespulse dead-letters reinject`` puts it back here and the
interpreter tries it again; a delivery whose interpretation failed unexpectedly is dead-lettered
as the stored record itself. The one dead letter that is no delivery is a ``too_large`` one that
did not fit the dead-letter topic: its value holds only the raw delivery's ``topic``,
``partition`` and ``offset`` (``events.crm.oversize``), for an operator to find it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import orjson

from events.crm.common import rfc3339
from events.errors import CorruptRecord
from events.publisher import Outgoing
from events.timestamps import parse_rfc3339

FORMAT = 1
KEPT_HEADERS = ("content-type", "user-agent")
"""Request headers a delivery keeps: how to read the body, and which client sent it."""
VENDORS = ("hubspot", "pipedrive", "salesforce")
_SESSION_ELEMENTS = re.compile(
    rb"<([A-Za-z_][\w.-]*:)?(SessionId|EnterpriseUrl|PartnerUrl)(\s[^>]*)?(?<!/)>[^<]*</\1?\2\s*>"
)
"""An element carrying a Salesforce session or its API endpoints, with its text."""


class UnreadableDelivery(CorruptRecord):
    """A record of the deliveries topic that is not a delivery of this format."""


@dataclass(frozen=True)
class RawDelivery:
    vendor: str
    delivery_id: str
    received_at: datetime
    body: bytes
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def with_body(self, body: bytes) -> RawDelivery:
        """The same delivery holding another body (some of its items, for a dead letter)."""
        return dataclasses.replace(self, body=body)


def received(vendor: str, body: bytes, headers: Mapping[str, str], at: datetime) -> RawDelivery:
    """A delivery just received: a new id, only the ``KEPT_HEADERS`` of the request, and for
    Salesforce no session (``without_session``)."""
    kept = {name: headers[name] for name in KEPT_HEADERS if headers.get(name) is not None}
    if vendor == "salesforce":
        body = without_session(body)
    return RawDelivery(vendor, uuid.uuid4().hex, at, body, kept)


def without_session(body: bytes) -> bytes:
    """An Outbound Message with the text of ``SessionId``, ``EnterpriseUrl`` and ``PartnerUrl``
    removed (the elements stay, empty), whatever their namespace prefix."""
    return _SESSION_ELEMENTS.sub(rb"<\1\2\3></\1\2>", body)


def encode_delivery(delivery: RawDelivery) -> bytes:
    value: dict = {
        "format": FORMAT,
        "vendor": delivery.vendor,
        "delivery_id": delivery.delivery_id,
        "received_at": rfc3339(delivery.received_at),
        "headers": dict(delivery.headers),
    }
    try:
        value["body"] = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        value["body_base64"] = base64.b64encode(delivery.body).decode("ascii")
    return orjson.dumps(value)


def delivery_record(delivery: RawDelivery, topic: str) -> Outgoing:
    return Outgoing(topic, delivery.vendor, encode_delivery(delivery))


def decode_delivery(value: bytes | None) -> RawDelivery:
    """The delivery in a record's value; ``UnreadableDelivery`` saying what is wrong."""
    try:
        data = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        raise UnreadableDelivery("delivery: the record is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UnreadableDelivery(f"delivery: not a CRM delivery record of format {FORMAT}")
    vendor, delivery_id = data.get("vendor"), data.get("delivery_id")
    if vendor not in VENDORS:
        raise UnreadableDelivery(f"delivery: vendor must be one of {', '.join(VENDORS)}")
    if not isinstance(delivery_id, str) or not delivery_id:
        raise UnreadableDelivery("delivery: delivery_id must be a non-empty string")
    stamp = data.get("received_at")
    at = parse_rfc3339(stamp) if isinstance(stamp, str) else None
    if at is None:
        raise UnreadableDelivery("delivery: received_at must be an RFC 3339 timestamp")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise UnreadableDelivery("delivery: headers must be an object of strings")
    return RawDelivery(vendor, delivery_id, at, _body(data), headers)


def _body(data: dict) -> bytes:
    if isinstance(data.get("body"), str):
        try:
            return data["body"].encode("utf-8")
        except UnicodeEncodeError:
            raise UnreadableDelivery("delivery: body is not encodable text") from None
    if isinstance(data.get("body_base64"), str):
        try:
            return base64.b64decode(data["body_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise UnreadableDelivery("delivery: body_base64 is not base64") from None
    raise UnreadableDelivery("delivery: body (text) or body_base64 is required")
