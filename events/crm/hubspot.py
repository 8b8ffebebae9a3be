"""HubSpot webhook deliveries (an array of subscription events) to native deal events.

HubSpot sends one event per change and no state: ``deal.creation`` carries no properties, and
each ``deal.propertyChange`` one property. The rules (docs/CRM.md):

- ``dealstage`` to a won stage -> deal.won, to a lost stage -> deal.lost, to any other stage ->
  deal.reopened (harmless on an open deal; correct after a win since HubSpot's ``occurredAt`` is
  the real change time and the workers fold by event time);
- ``amount``, the owner, the customer, channel and segment properties and the deal stage
  probability (``hs_deal_stage_probability``, 0..1 as HubSpot documents it) -> deal.updated with
  that attribute, whether or not the deal's creation was seen;
- ``deal.creation`` -> deal.created if the same delivery also carries the owner, amount and
  customer of that deal (HubSpot batches a new deal's initial properties with its creation),
  otherwise deal.updated with what is known: the contract refuses a deal.created without them;
- deletions, other objects and other properties are acknowledged and ignored.

Event ids hash (portal, subscription, eventId, occurredAt, role): HubSpot's ``eventId`` alone is
not unique, and ``attemptNumber`` is left out so that a retry gives the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events.crm.common import (
    FRACTION,
    InvalidDelivery,
    created_or_updated,
    deal_event,
    epoch_ms_time,
    from_epoch_ms,
    native_event_id,
    parse_amount,
    parse_probability,
    text_id,
    too_many,
)
from events.crm.mapping import CrmMapping

VENDOR = "hubspot"
MAX_EVENTS = 100
DEAL_OBJECT_TYPE_ID = "0-3"
"""The generic ``object.*`` subscriptions name deals by this object type id."""


@dataclass(frozen=True)
class HubSpotEvent:
    """The fields of one deal subscription event that the mapping reads."""

    index: int
    identity: tuple
    kind: str  # creation | propertyChange | deletion | ...
    object_id: str
    occurred_ms: int
    property_name: str | None
    property_value: object

    @property
    def occurred_at(self) -> datetime:
        return from_epoch_ms(self.occurred_ms)


def hubspot_events(payload: object, mapping: CrmMapping) -> list[dict]:
    """Native events for one delivery, in delivery order; InvalidDelivery if it is malformed."""
    deal_events = [e for e in _parse_all(payload) if e is not None]
    native = []
    for event in deal_events:
        if event.kind == "creation":
            native += _creation(event, deal_events, mapping)
        elif event.kind == "propertyChange":
            native += _property_change(event, mapping)
    return native


def _parse_all(payload: object) -> list[HubSpotEvent | None]:
    if not isinstance(payload, list):
        raise InvalidDelivery("body: must be a JSON array of HubSpot events")
    if not payload:
        raise InvalidDelivery("body: the array holds no event")
    if len(payload) > MAX_EVENTS:
        raise too_many(len(payload), MAX_EVENTS, "events")
    return [_parse(index, item) for index, item in enumerate(payload)]


def _parse(index: int, item: object) -> HubSpotEvent | None:
    """The event if it is about a deal, None for other objects; InvalidDelivery if malformed."""
    where = f"[{index}]"
    if not isinstance(item, dict):
        raise InvalidDelivery(f"{where}: must be a JSON object")
    kind_text = _required_str(item, "subscriptionType", where)
    subject, _, kind = kind_text.partition(".")
    if subject == "object":
        is_deal = text_id(item.get("objectTypeId")) == DEAL_OBJECT_TYPE_ID
    else:
        is_deal = subject == "deal"
    occurred_ms = item.get("occurredAt")
    if epoch_ms_time(occurred_ms) is None:
        raise InvalidDelivery(f"{where}.occurredAt: must be epoch milliseconds")
    identity = tuple(_required_id(item, name, where) for name in _IDENTITY) + (occurred_ms,)
    if not is_deal:
        return None
    return HubSpotEvent(
        index=index,
        identity=identity,
        kind=kind,
        object_id=_required_id(item, "objectId", where),
        occurred_ms=occurred_ms,
        property_name=item.get("propertyName")
        if isinstance(item.get("propertyName"), str)
        else None,
        property_value=item.get("propertyValue"),
    )


_IDENTITY = ("portalId", "subscriptionId", "eventId")


def _required_id(item: dict, name: str, where: str) -> str:
    value = text_id(item.get(name))
    if value is None:
        raise InvalidDelivery(f"{where}.{name}: required (a number or a non-empty string)")
    return value


def _required_str(item: dict, name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidDelivery(f"{where}.{name}: required (a non-empty string)")
    return value


def _deal_id(event: HubSpotEvent, mapping: CrmMapping) -> str:
    return f"{mapping.hubspot.deal_id_prefix}{event.object_id}"


def _property_change(event: HubSpotEvent, mapping: CrmMapping) -> list[dict]:
    config = mapping.hubspot
    deal_id = _deal_id(event, mapping)
    if event.property_name == config.stage_property:
        kind = _stage_kind(event.property_value, mapping)
        if kind is None:
            return []
        return [_native(kind, event, deal_id, (kind,), {})]
    attrs = _property_attrs(event, mapping)
    if not attrs:
        return []
    return [_native("deal.updated", event, deal_id, ("updated",), attrs)]


def _stage_kind(stage: object, mapping: CrmMapping) -> str | None:
    config = mapping.hubspot
    if not isinstance(stage, str) or not stage:
        return None
    if stage in config.won_stages:
        return "deal.won"
    if stage in config.lost_stages:
        return "deal.lost"
    return "deal.reopened" if config.reopen_on_open_stage else None


def _property_attrs(event: HubSpotEvent, mapping: CrmMapping) -> dict:
    """The native attributes one property change sets; empty for unmapped or emptied ones.

    An emptied property (HubSpot sends "") cannot be expressed: the contract has no null
    attribute, so the deal keeps its previous value.
    """
    config, name, value = mapping.hubspot, event.property_name, event.property_value
    where = f"[{event.index}].propertyValue"
    if name == config.amount_property:
        amount = parse_amount(value, where)
        if amount is None:
            return {}
        return {"amount": amount, "currency": config.currency}
    if name == config.probability_property:
        probability = parse_probability(value, FRACTION, where)
        return {} if probability is None else {"probability": probability}
    text = text_id(value)
    if text is None:
        return {}
    if name == config.owner_property:
        return mapping.owner_attrs(config, text)
    if name == config.customer_property:
        return {"customer_id": text}
    if name == config.channel_property:
        return {"channel": text}
    if name == config.segment_property:
        return {"segment": mapping.segment(config, text)}
    return {}


def _creation(event: HubSpotEvent, delivery: list[HubSpotEvent], mapping: CrmMapping) -> list[dict]:
    """deal.created when the delivery holds the deal's required properties, else deal.updated.

    The latest value of each property in the delivery is used. The ids of the property events
    used are part of the identity: a retry batched differently gives a different native event
    under a different id, never two different events under one id.
    """
    changes = sorted(
        (e for e in delivery if e.kind == "propertyChange" and e.object_id == event.object_id),
        key=lambda e: (e.occurred_ms, e.index),
    )
    attrs: dict = {}
    used = []
    for change in changes:
        values = _property_attrs(change, mapping)
        if values:
            attrs.update(values)
            used.append(change.identity)
    kind = created_or_updated(attrs)
    if kind == "deal.updated" and not attrs:
        return []
    role = ("created" if kind == "deal.created" else "creation-updated", sorted(used))
    return [_native(kind, event, _deal_id(event, mapping), role, attrs)]


def _native(kind: str, event: HubSpotEvent, deal_id: str, role: tuple, attrs: dict) -> dict:
    event_id = native_event_id(VENDOR, *event.identity, *role)
    return deal_event(kind, event_id, deal_id, event.occurred_at, VENDOR, attrs)
