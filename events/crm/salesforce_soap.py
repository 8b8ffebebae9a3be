"""Salesforce Outbound Messages: the SOAP ``notifications`` request and its two answers.

The body is untrusted XML, so it is parsed with defusedxml with DTDs forbidden: no entity
expansion (billion laughs), no external entity or DTD fetch; the ingest body-size limit bounds
everything else. Only the elements Salesforce documents are read, by namespace:
``notifications`` (OrganizationId, ActionId, up to 100 ``Notification``: Id and an ``sObject``
whose children are the fields chosen for the message, ``xsi:nil`` for empty ones).

Only the envelope is checked whole (``InvalidDelivery``): a notification that lacks its Id or
sObject is kept with its ``problem``, so that it fails alone and its siblings still count.
``outbound_message`` writes notifications back as a message, e.g. one of them for a dead letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from events.crm.common import InvalidDelivery, too_many

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
CONTENT_TYPE = "text/xml; charset=utf-8"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()
"""The only answer after which Salesforce stops retrying: sent once the events are stored."""


@dataclass(frozen=True)
class Notification:
    id: str | None
    sobject_type: str | None  # "Opportunity" for xsi:type="sf:Opportunity"
    fields: dict[str, str | None]
    problem: str | None = None
    """Why this notification cannot be read (no Id, no sObject); None when it can."""


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    notifications: tuple[Notification, ...]


def fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 fault: ``Client`` for a delivery we refuse, ``Server`` for our own trouble."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>soapenv:{escape(code)}</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """The notifications of a request body; InvalidDelivery (400 or 422) when it is not one."""
    root = _parse_xml(body)
    envelope_body = (
        root.find(f"{{{SOAP_ENV}}}Body") if root.tag == f"{{{SOAP_ENV}}}Envelope" else None
    )
    message = None if envelope_body is None else envelope_body.find(f"{{{OUTBOUND}}}notifications")
    if message is None:
        raise InvalidDelivery("body: not a SOAP envelope with an Outbound Message 'notifications'")
    organization = _text(message.find(f"{{{OUTBOUND}}}OrganizationId"))
    if not organization:
        raise InvalidDelivery("notifications.OrganizationId: required")
    items = message.findall(f"{{{OUTBOUND}}}Notification")
    if not items:
        raise InvalidDelivery("notifications: holds no Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise too_many(len(items), MAX_NOTIFICATIONS, "notifications")
    return OutboundMessage(organization, tuple(_notification(i, el) for i, el in enumerate(items)))


def _parse_xml(body: bytes) -> Element:
    try:
        return SafeElementTree.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidDelivery(
            f"body: refused XML ({type(exc).__name__})", "invalid_xml", 400
        ) from None
    except ParseError as exc:
        raise InvalidDelivery(f"body: not well-formed XML ({exc})", "invalid_xml", 400) from None


def _notification(index: int, element: Element) -> Notification:
    where = f"Notification[{index}]"
    notification_id = _text(element.find(f"{{{OUTBOUND}}}Id"))
    sobject = element.find(f"{{{OUTBOUND}}}sObject")
    if not notification_id:
        return Notification(None, None, {}, f"{where}.Id: required")
    if sobject is None:
        return Notification(notification_id, None, {}, f"{where}.sObject: required")
    declared = sobject.get(f"{{{XSI}}}type")
    fields = {_local(child.tag): _value(child) for child in sobject}
    return Notification(
        id=notification_id,
        sobject_type=declared.rpartition(":")[2] if declared else None,
        fields=fields,
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _value(element: Element) -> str | None:
    if element.get(f"{{{XSI}}}nil") in ("true", "1"):
        return None
    return _text(element)


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def outbound_message(organization_id: str, notifications: Sequence[Notification]) -> bytes:
    """A ``notifications`` request holding ``notifications``, as Salesforce would send it.

    ``parse_outbound_message`` reads it back to equal notifications (a notification without an
    Id, which cannot be written, comes back with the same problem).
    """
    parts = []
    for note in notifications:
        fields = "".join(_field(name, value) for name, value in note.fields.items())
        kind = f' xsi:type="sf:{escape(note.sobject_type)}"' if note.sobject_type else ""
        sobject = "" if note.problem and note.id else f'<sObject{kind} xmlns:sf="{SOBJECT}">'
        sobject += f"{fields}</sObject>" if sobject else ""
        parts.append(f"<Notification><Id>{escape(note.id or '')}</Id>{sobject}</Notification>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:xsi="{XSI}"><soapenv:Body>'
        f'<notifications xmlns="{OUTBOUND}">'
        f"<OrganizationId>{escape(organization_id)}</OrganizationId>{''.join(parts)}"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


SOBJECT = "urn:sobject.enterprise.soap.sforce.com"


def _field(name: str, value: str | None) -> str:
    if value is None:
        return f'<sf:{name} xsi:nil="true"/>'
    return f"<sf:{name}>{escape(value)}</sf:{name}>"
