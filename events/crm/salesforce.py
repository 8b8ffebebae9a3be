"""Salesforce Outbound Message notifications (Opportunity) to native deal events.

Salesforce sends the opportunity's latest state only, never what changed, so each notification
restates it (docs/CRM.md):

- deal.updated at ``LastModifiedDate`` with owner -> rep/team, ``AccountId`` -> customer,
  ``Amount`` (+ ``CurrencyIsoCode``) -> amount, ``Probability`` (percent) / 100 -> probability,
  and the configured channel and segment fields;
- deal.created at ``CreatedDate`` when that field and every required attribute are present;
- the status from ``IsWon``/``IsClosed`` (or ``StageName`` when they are not sent): won ->
  deal.won, lost -> deal.lost, at ``LastStageChangeDate``, else at ``CloseDate`` (midnight in the
  configured time zone, unless in the future), else at ``LastModifiedDate``;
- open -> deal.reopened at ``LastStageChangeDate``, only when that field is sent (and
  ``emit_reopened`` is on). Stage-change time is what makes this safe: every status event of an
  opportunity is stamped with the time its stage last changed, so the workers' fold by event
  time orders a reopen after the win it undoes, and before a later win, however often an
  unchanged state is restated. With ``CloseDate`` alone a reopen could not be ordered, so none is
  emitted.

Restating is harmless: the workers fold the deal by event time and a repeated status event at the
same time changes nothing. Ids come from the deal's state (``events.crm.deal_ids``): a retried
notification, a later one restating the same state and ``crm sync`` give the same ids.

Each notification is an item (``ItemOutcome``): one that cannot be mapped fails alone. A
notification whose sObject is empty (Salesforce sends no data for a record deleted before the
message left) fails with that reason; other sObjects are skipped. ``CurrencyIsoCode`` is the
amount's currency, else the mapping's ``salesforce.currency``.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from events.crm import deal_ids
from events.crm.common import (
    PERCENT,
    InvalidDelivery,
    ItemOutcome,
    created_or_updated,
    deal_event,
    item_outcome,
    parse_amount,
    parse_probability,
    strict_events,
    vendor_time,
)
from events.crm.mapping import CrmMapping
from events.crm.salesforce_soap import Notification, OutboundMessage

VENDOR = "salesforce"
OPPORTUNITY = "Opportunity"
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)


def organization_matches(configured: str, given: str) -> bool:
    """Org ids compare on their case-sensitive 15-character form (18 adds a checksum suffix)."""
    return len(given) in (15, 18) and configured.strip()[:15] == given[:15]


def salesforce_events(
    message: OutboundMessage, mapping: CrmMapping, now: datetime, zone: ZoneInfo
) -> list[dict]:
    """Native events of every Opportunity notification; InvalidDelivery if one is bad."""
    return strict_events(salesforce_outcomes(message, mapping, now, zone))


def salesforce_outcomes(
    message: OutboundMessage, mapping: CrmMapping, now: datetime, zone: ZoneInfo
) -> list[ItemOutcome]:
    """What each notification becomes; ``now`` is when the message arrived."""
    return [
        _outcome(index, note, mapping, now, zone)
        for index, note in enumerate(message.notifications)
    ]


def _outcome(
    index: int, note: Notification, mapping: CrmMapping, now: datetime, zone: ZoneInfo
) -> ItemOutcome:
    opportunity = note.fields.get("Id")
    if note.problem is not None:
        return ItemOutcome(index, failure=note.problem, deal=opportunity)
    if note.sobject_type not in (None, OPPORTUNITY):
        return ItemOutcome(index, skipped="not_an_opportunity")
    where = f"Notification[{index}]"
    if not set(note.fields) - {"Id"}:
        reason = f"deleted: {where}.sObject is empty (the record was deleted before it was sent)"
        return ItemOutcome(index, failure=reason, deal=opportunity)
    return item_outcome(
        index, opportunity, lambda: _notification_events(note, mapping, now, zone, where)
    )


def _notification_events(
    note: Notification, mapping: CrmMapping, now: datetime, zone: ZoneInfo, where: str
) -> list[dict]:
    fields = note.fields
    opportunity = fields.get("Id")
    if not opportunity:
        raise InvalidDelivery(f"{where}.sObject.Id: required")
    deal_id = f"{mapping.salesforce.deal_id_prefix}{opportunity}"

    def emit(kind: str, at: datetime, attrs: dict) -> dict:
        event_id = deal_ids.event_id(VENDOR, deal_id, kind, at, attrs)
        return deal_event(kind, event_id, deal_id, at, VENDOR, attrs)

    observed = field_time(fields, "LastModifiedDate", where) or field_time(
        fields, "SystemModstamp", where
    )
    observed = observed or now
    attrs = opportunity_attrs(fields, mapping, where)
    events = [emit("deal.updated", observed, attrs)] if attrs else []
    created = field_time(fields, "CreatedDate", where)
    if created is not None and created_or_updated(attrs) == "deal.created":
        events.append(emit("deal.created", created, attrs))
    stage_changed = field_time(fields, "LastStageChangeDate", where)
    closed_on = close_date(fields, zone, now, where)
    status = opportunity_status(fields, mapping, where)
    if status in ("won", "lost"):
        at = stage_changed or closed_on or observed
        events.append(emit(f"deal.{status}", at, lost_extra(fields, mapping, status)))
    elif status == "open" and mapping.salesforce.emit_reopened and stage_changed is not None:
        events.append(emit("deal.reopened", stage_changed, {}))
    return events


def opportunity_attrs(fields: dict, mapping: CrmMapping, where: str) -> dict:
    config = mapping.salesforce

    def text(name: str | None) -> str | None:
        return _text(fields, name, where) if name else None

    attrs: dict = dict(mapping.owner_attrs(config, text("OwnerId")))
    if config.customer_field:
        attrs["customer_id"] = text(config.customer_field)
    amount = parse_amount(fields.get("Amount"), f"{where}.sObject.Amount")
    if amount is not None:
        attrs.update(amount=amount, currency=text("CurrencyIsoCode") or config.currency)
    if config.channel_field:
        attrs["channel"] = text(config.channel_field)
    if config.segment_field:
        attrs["segment"] = mapping.segment(config, text(config.segment_field))
    if config.probability_field:
        where_probability = f"{where}.sObject.{config.probability_field}"
        value = fields.get(config.probability_field)
        attrs["probability"] = parse_probability(value, PERCENT, where_probability)
    return {name: value for name, value in attrs.items() if value is not None}


def _text(fields: dict, name: str, where: str) -> str | None:
    """A field that must be text (an id, a code, a label): anything else refuses the deal.

    The REST API can answer a relationship (an object) where a query names one; it must never
    reach the owner table or the segment table as a key.
    """
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    shape = type(value).__name__
    raise InvalidDelivery(f"{where}.sObject.{name}: must be a text value, not {shape}")


def opportunity_status(fields: dict, mapping: CrmMapping, where: str) -> str | None:
    """won / lost / open from IsWon and IsClosed, or from StageName when they are not sent."""
    is_won = _bool(fields, "IsWon", where)
    is_closed = _bool(fields, "IsClosed", where)
    if is_won:
        return "won"
    if is_closed is not None:
        return "lost" if is_closed else "open"
    stage = fields.get("StageName")
    if stage is None:
        return None
    if stage in mapping.salesforce.won_stages:
        return "won"
    return "lost" if stage in mapping.salesforce.lost_stages else "open"


def lost_extra(fields: dict, mapping: CrmMapping, status: str) -> dict:
    field = mapping.salesforce.lost_reason_field
    if status != "lost" or not field or not isinstance(fields.get(field), str):
        return {}
    return {"reason": fields[field]} if fields[field] else {}


def _bool(fields: dict, name: str, where: str) -> bool | None:
    value = fields.get(name)
    if value is None:
        return None
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidDelivery(f"{where}.sObject.{name}: must be true or false")


def field_time(fields: dict, name: str, where: str) -> datetime | None:
    value = fields.get(name)
    if value is None:
        return None
    moment = vendor_time(value)
    if moment is None:
        raise InvalidDelivery(f"{where}.sObject.{name}: must be an xsd:dateTime")
    return moment


def close_date(fields: dict, zone: ZoneInfo, now: datetime, where: str) -> datetime | None:
    """Midnight of CloseDate in the reporting time zone; None if absent or still in the future.

    A CloseDate is often the expected date, set ahead of time; an event in the future would be
    refused by the contract, so the notification's own time is used instead.
    """
    value = fields.get("CloseDate")
    if value is None:
        return None
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    try:
        day = datetime(*(int(part) for part in match.groups()), tzinfo=zone) if match else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidDelivery(f"{where}.sObject.CloseDate: must be an xsd:date (YYYY-MM-DD)")
    return day if day <= now else None
