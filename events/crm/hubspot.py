"""HubSpot webhook deliveries (an array of subscription events) to native deal events.

HubSpot sends one event per change and no state: ``deal.creation`` carries no properties, and
each ``deal.propertyChange`` one property. The rules (docs/CRM.md):

- ``dealstage`` to a won stage -> deal.won, to a lost stage -> deal.lost, to any other stage ->
  deal.reopened (harmless on an open deal; correct after a win since HubSpot's ``occurredAt`` is
  the real change time and the workers fold by event time);
- ``amount``, the owner, the customer, channel and segment properties and the deal stage
  probability (``hs_deal_stage_probability``, 0..1 as HubSpot documents it) -> deal.updated with
  that attribute, whether or not the deal's creation was seen;
- ``deal_currency_code`` is the currency of the deal's amount events in the same delivery (the
  latest value there); alone, it is skipped: the amount it applies to is not in the delivery;
- ``deal.creation`` -> deal.created if the same delivery also carries the owner, amount and
  customer of that deal (HubSpot batches a new deal's initial properties with its creation),
  otherwise deal.updated with what is known: the contract refuses a deal.created without them;
- deletions, association changes, merges, other objects and other properties are skipped.

Each item is read (``events.crm.hubspot_items``) and mapped on its own (``ItemOutcome``): a
malformed one fails alone. Event ids come from the deal's state (``events.crm.deal_ids``), so a
retry, a differently batched delivery and ``crm sync`` publish the same fact under the same id.
"""

from __future__ import annotations

from events.crm import deal_ids
from events.crm.common import (
    FRACTION,
    InvalidDelivery,
    ItemOutcome,
    created_or_updated,
    deal_event,
    item_outcome,
    parse_amount,
    parse_probability,
    strict_events,
    text_id,
)
from events.crm.hubspot_items import HubSpotEvent, check_delivery, parse_item
from events.crm.mapping import CrmMapping

VENDOR = "hubspot"


def hubspot_events(payload: object, mapping: CrmMapping) -> list[dict]:
    """Native events for one delivery, in delivery order; InvalidDelivery if any item is bad."""
    return strict_events(hubspot_outcomes(payload, mapping))


def hubspot_outcomes(payload: object, mapping: CrmMapping) -> list[ItemOutcome]:
    """What each item of a delivery becomes, in delivery order."""
    items = check_delivery(payload)
    parsed = [parse_item(index, item) for index, item in enumerate(items)]
    deal_events = [p for p in parsed if isinstance(p, HubSpotEvent)]
    return [p if isinstance(p, ItemOutcome) else _outcome(p, deal_events, mapping) for p in parsed]


def _deal_id(event: HubSpotEvent, mapping: CrmMapping) -> str:
    return f"{mapping.hubspot.deal_id_prefix}{event.object_id}"


def _outcome(event: HubSpotEvent, delivery: list[HubSpotEvent], mapping: CrmMapping) -> ItemOutcome:
    if event.kind == "creation":
        build = lambda: _creation(event, delivery, mapping)  # noqa: E731
    else:
        skip = _unused_change(event, mapping)
        if skip is not None:
            return ItemOutcome(event.index, skipped=skip, deal=event.object_id)
        build = lambda: _property_change(event, delivery, mapping)  # noqa: E731
    outcome = item_outcome(event.index, event.object_id, build)
    if outcome.skipped == "no_attributes" and event.kind == "propertyChange":
        return ItemOutcome(event.index, skipped="empty_value", deal=event.object_id)
    return outcome


def _unused_change(event: HubSpotEvent, mapping: CrmMapping) -> str | None:
    """Why a property change maps to nothing by design (a skip), or None when it is used."""
    config, name = mapping.hubspot, event.property_name
    if name == config.currency_property:
        return "currency_only"
    used = (
        config.stage_property,
        config.amount_property,
        config.probability_property,
        config.owner_property,
        config.customer_property,
        config.channel_property,
        config.segment_property,
    )
    return None if name is not None and name in used else "unused_property"


def _property_change(
    event: HubSpotEvent, delivery: list[HubSpotEvent], mapping: CrmMapping
) -> list[dict]:
    config = mapping.hubspot
    deal_id = _deal_id(event, mapping)
    at = event.occurred_at
    if event.property_name == config.stage_property:
        kind = _stage_kind(event.property_value, mapping)
        if kind is None:
            return []
        event_id = deal_ids.status_change_id(VENDOR, deal_id, kind.removeprefix("deal."), at)
        return [deal_event(kind, event_id, deal_id, at, VENDOR, {})]
    attrs = _property_attrs(event, _deal_currency(event, delivery, mapping), mapping)
    if not attrs:
        return []
    event_id = deal_ids.updated_id(VENDOR, deal_id, at, attrs)
    return [deal_event("deal.updated", event_id, deal_id, at, VENDOR, attrs)]


def _stage_kind(stage: object, mapping: CrmMapping) -> str | None:
    config = mapping.hubspot
    if not isinstance(stage, str) or not stage:
        return None
    if stage in config.won_stages:
        return "deal.won"
    if stage in config.lost_stages:
        return "deal.lost"
    return "deal.reopened" if config.reopen_on_open_stage else None


def _deal_currency(
    event: HubSpotEvent, delivery: list[HubSpotEvent], mapping: CrmMapping
) -> str | None:
    """The deal's currency: its latest ``deal_currency_code`` in the delivery, else the
    mapping's default (None: the reporting currency)."""
    config = mapping.hubspot
    codes = [
        (e.occurred_ms, e.index, text_id(e.property_value))
        for e in delivery
        if e.object_id == event.object_id
        and e.kind == "propertyChange"
        and e.property_name == config.currency_property
        and text_id(e.property_value) is not None
    ]
    return max(codes)[2] if codes else config.currency


def _property_attrs(event: HubSpotEvent, currency: str | None, mapping: CrmMapping) -> dict:
    """The native attributes one property change sets; empty for unmapped or emptied ones.

    An emptied property (HubSpot sends "") cannot be expressed: the contract has no null
    attribute, so the deal keeps its previous value.
    """
    config, name, value = mapping.hubspot, event.property_name, event.property_value
    where = f"[{event.index}].propertyValue"
    if name == config.amount_property:
        amount = parse_amount(value, where)
        return {} if amount is None else {"amount": amount, "currency": currency}
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

    The latest value of each property in the delivery is used; a property change that cannot
    be read fails on its own item and is left out here.
    """
    changes = sorted(
        (e for e in delivery if e.kind == "propertyChange" and e.object_id == event.object_id),
        key=lambda e: (e.occurred_ms, e.index),
    )
    currency = _deal_currency(event, delivery, mapping)
    attrs: dict = {}
    for change in changes:
        try:
            attrs.update(_property_attrs(change, currency, mapping))
        except InvalidDelivery:
            continue
    attrs = {name: value for name, value in attrs.items() if value is not None}
    deal_id, at = _deal_id(event, mapping), event.occurred_at
    kind = created_or_updated(attrs)
    if kind == "deal.created":
        event_id = deal_ids.created_id(VENDOR, deal_id)
    elif attrs:
        event_id = deal_ids.updated_id(VENDOR, deal_id, at, attrs)
    else:
        return []
    return [deal_event(kind, event_id, deal_id, at, VENDOR, attrs)]
