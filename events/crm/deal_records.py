"""A vendor deal's CURRENT state (as the CRM APIs answer it) to native events with state ids.

Webhooks report changes; the APIs report where a deal stands now. Both publish the same facts
under the same ids (``events.crm.deal_ids``) where they time them alike (creations, statuses at
the stage-change instant); the rest only restates the state the webhooks built, so a ``crm sync``
after the webhooks, or twice, changes no KPI (docs/CRM.md). A deal's state becomes:

- ``deal.created`` at its create date, with its current owner, customer, amount (in the deal's
  own currency), channel, segment and probability, once every attribute the contract requires is
  known (the id is the deal's: the first one stored counts, later attributes arrive as updates);
- ``deal.updated`` at its last-modified instant carrying the current attributes;
- ``deal.won`` / ``deal.lost`` when the CRM says it is closed, at the instant its stage last
  changed (HubSpot ``hs_v2_date_entered_current_stage``, Pipedrive ``won_time``/``lost_time``,
  Salesforce ``LastStageChangeDate``), else at its close date; never after the last change;
- ``deal.reopened`` when it says it is open, ONLY at the instant the deal entered its open stage
  (HubSpot ``hs_v2_date_entered_current_stage``, Pipedrive ``stage_change_time``, Salesforce
  ``LastStageChangeDate``), never at the last-modified instant: a reopen stamped with a later
  edit would sort after a win whose close date is earlier (midnight, backdated) and undo it.

The attribute rules (owners, stages, probability scales, segments, amounts) are the webhook
adapters' own, imported from them, so the two paths cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from events.crm import deal_ids
from events.crm import pipedrive as pipedrive_adapter
from events.crm import salesforce as salesforce_adapter
from events.crm.common import (
    FRACTION,
    InvalidDelivery,
    created_or_updated,
    deal_event,
    parse_amount,
    parse_probability,
    text_id,
    vendor_time,
)
from events.crm.mapping import CrmMapping

OPEN, WON, LOST = "open", "won", "lost"
STAGE_ENTERED = "hs_v2_date_entered_current_stage"
"""HubSpot's calculated property: when the deal entered its current stage (the status time)."""
_REST_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2}T[\d:.]+[+-]\d{2})(\d{2})", re.ASCII)
"""Salesforce REST's ``2026-02-14T10:00:00.000+0000``: RFC 3339 wants ``+00:00``."""


@dataclass(frozen=True)
class DealState:
    """Where one vendor deal stands now, in native terms."""

    vendor: str
    deal_id: str
    modified_at: datetime
    created_at: datetime | None = None
    status: str | None = None
    closed_at: datetime | None = None
    attrs: dict = field(default_factory=dict)
    lost_reason: str | None = None
    stage_changed_at: datetime | None = None
    """When the deal entered its current stage (status), if the CRM says: the status's time."""


def state_events(state: DealState) -> list[dict]:
    """The native events of a deal's state, each with its state-derived id."""
    vendor, deal = state.vendor, state.deal_id
    attrs = {name: value for name, value in state.attrs.items() if value is not None}
    events = []
    if state.created_at is not None and created_or_updated(attrs) == "deal.created":
        event_id = deal_ids.created_id(vendor, deal)
        events.append(deal_event("deal.created", event_id, deal, state.created_at, vendor, attrs))
    if attrs:
        event_id = deal_ids.updated_id(vendor, deal, state.modified_at, attrs)
        events.append(deal_event("deal.updated", event_id, deal, state.modified_at, vendor, attrs))
    events += _status_events(state)
    return events


def _status_events(state: DealState) -> list[dict]:
    vendor, deal = state.vendor, state.deal_id
    changed = state.stage_changed_at
    if state.status in (WON, LOST):
        at = changed or state.closed_at or state.modified_at
        at = min(at, state.modified_at)  # an expected close date ahead of the last change
        extra = {"reason": state.lost_reason} if state.status == LOST and state.lost_reason else {}
        kind = f"deal.{state.status}"
        event_id = deal_ids.event_id(vendor, deal, kind, at, extra)
        return [deal_event(kind, event_id, deal, at, vendor, extra)]
    if state.status == OPEN and changed is not None:
        at = min(changed, state.modified_at)
        event_id = deal_ids.event_id(vendor, deal, "deal.reopened", at, {})
        return [deal_event("deal.reopened", event_id, deal, at, vendor)]
    return []


def _required_time(value: object, where: str) -> datetime:
    moment = vendor_time(value)
    if moment is None:
        raise InvalidDelivery(f"{where}: required (a date-time)")
    return moment


# -- HubSpot: CRM v3 objects (batch read or search), company from the v4 associations --------


def hubspot_state(record: dict, company_id: str | None, mapping: CrmMapping) -> DealState:
    """A deal object of the CRM v3 API; ``company_id``: its associated company, the customer.

    The deal's own ``deal_currency_code`` is its currency (the mapping's ``currency`` only when
    the portal has none); the customer is the associated company, else the customer property.
    """
    config = mapping.hubspot
    props = record.get("properties") if isinstance(record.get("properties"), dict) else {}
    deal_id = text_id(record.get("id"))
    if deal_id is None:
        raise InvalidDelivery("deal.id: required")
    where = f"deal {deal_id}"
    attrs = dict(mapping.owner_attrs(config, text_id(props.get(config.owner_property))))
    customer = company_id
    if customer is None and config.customer_property:
        customer = text_id(props.get(config.customer_property))
    attrs["customer_id"] = customer
    amount = parse_amount(props.get(config.amount_property), f"{where}.{config.amount_property}")
    if amount is not None:
        currency = text_id(props.get("deal_currency_code")) or config.currency
        attrs.update(amount=amount, currency=currency)
    if config.channel_property:
        attrs["channel"] = text_id(props.get(config.channel_property))
    if config.segment_property:
        attrs["segment"] = mapping.segment(config, text_id(props.get(config.segment_property)))
    if config.probability_property:
        value = props.get(config.probability_property)
        where_probability = f"{where}.{config.probability_property}"
        attrs["probability"] = parse_probability(value, FRACTION, where_probability)
    modified = props.get("hs_lastmodifieddate") or record.get("updatedAt")
    status = _hubspot_status(props, mapping)
    entered = vendor_time(props.get(STAGE_ENTERED))
    if status == OPEN and not config.reopen_on_open_stage:
        entered = None
    return DealState(
        vendor="hubspot",
        deal_id=f"{config.deal_id_prefix}{deal_id}",
        modified_at=_required_time(modified, f"{where}.hs_lastmodifieddate"),
        created_at=vendor_time(props.get("createdate") or record.get("createdAt")),
        status=status,
        closed_at=vendor_time(props.get("closedate")),
        attrs=attrs,
        stage_changed_at=entered,
    )


def _hubspot_status(props: dict, mapping: CrmMapping) -> str:
    """The mapping's stage lists first (as for webhooks), then HubSpot's own closed flags."""
    config = mapping.hubspot
    stage = props.get(config.stage_property)
    if stage in config.won_stages:
        return WON
    if stage in config.lost_stages:
        return LOST
    if props.get("hs_is_closed_won") == "true":
        return WON
    return LOST if props.get("hs_is_closed") == "true" else OPEN


# -- Pipedrive: API v2 deal objects ------------------------------------------------------------


def pipedrive_state(deal: dict, mapping: CrmMapping) -> DealState:
    """A deal of Pipedrive's API v2 (the shape of its webhooks v2 ``data``)."""
    deal_id = text_id(deal.get("id"))
    if deal_id is None:
        raise InvalidDelivery("deal.id: required")
    status = deal.get("status") if deal.get("status") in (OPEN, WON, LOST) else None
    changed = {WON: "won_time", LOST: "lost_time", OPEN: "stage_change_time"}.get(status or "")
    reason = deal.get("lost_reason")
    return DealState(
        vendor="pipedrive",
        deal_id=f"{mapping.pipedrive.deal_id_prefix}{deal_id}",
        modified_at=_required_time(deal.get("update_time"), f"deal {deal_id}.update_time"),
        created_at=vendor_time(deal.get("add_time")),
        status=status,
        closed_at=vendor_time(deal.get("close_time")),
        attrs=pipedrive_adapter.deal_attrs(deal, mapping),
        lost_reason=reason if isinstance(reason, str) and reason else None,
        stage_changed_at=vendor_time(deal.get(changed)) if changed else None,
    )


# -- Salesforce: REST query records of Opportunity ---------------------------------------------


def salesforce_state(record: dict, mapping: CrmMapping, zone: ZoneInfo, now: datetime) -> DealState:
    """An Opportunity record of a REST query, read with the Outbound Message adapter's rules.

    The REST API writes booleans as JSON booleans and times as ``...+0000``; they are put in the
    Outbound Message's text forms first. Without ``CurrencyIsoCode`` (single-currency orgs) the
    amount has no currency: it is in the org's, which must be the reporting currency.
    """
    fields = outbound_fields(record)
    opportunity = fields.get("Id")
    if not opportunity or not isinstance(opportunity, str):
        raise InvalidDelivery("Opportunity.Id: required (a text id)")
    where = f"Opportunity {opportunity}"
    modified = salesforce_adapter.field_time(fields, "LastModifiedDate", where)
    if modified is None:
        raise InvalidDelivery(f"{where}.LastModifiedDate: required")
    status = salesforce_adapter.opportunity_status(fields, mapping, where)
    stage_changed = salesforce_adapter.field_time(fields, "LastStageChangeDate", where)
    if status == OPEN and not mapping.salesforce.emit_reopened:
        stage_changed = None
    extra = salesforce_adapter.lost_extra(fields, mapping, status or "")
    return DealState(
        vendor="salesforce",
        deal_id=f"{mapping.salesforce.deal_id_prefix}{opportunity}",
        modified_at=modified,
        created_at=salesforce_adapter.field_time(fields, "CreatedDate", where),
        status=status,
        closed_at=salesforce_adapter.close_date(fields, zone, now, where),
        attrs=salesforce_adapter.opportunity_attrs(fields, mapping, where),
        lost_reason=extra.get("reason"),
        stage_changed_at=stage_changed,
    )


def outbound_fields(record: dict) -> dict:
    """A REST record's fields in the Outbound Message's text forms (booleans, numbers, times).

    Nested objects (a relationship such as ``Account``) are kept as they are and read by no rule.
    """
    fields = {}
    for name, value in record.items():
        if name == "attributes" or value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)  # as the XML writes it: 5000.0 is then the integer 5000
        elif isinstance(value, str):
            match = _REST_DATETIME.fullmatch(value)
            value = f"{match[1]}:{match[2]}" if match else value
        fields[name] = value
    return fields


# -- What a source answers ----------------------------------------------------------------------


@dataclass
class DealBatch:
    """Native events per deal, and the deals whose vendor data broke a mapping rule (reason).

    A refused deal is reported rather than dropped silently: ``crm sync`` counts and prints it,
    the webhook interpreter can dead-letter it. Keys are the ids the caller asked with.
    """

    events: dict[str, list[dict]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, build) -> None:
        """Record the events of ``build()`` (a ``DealState``) under ``key``, or why it failed."""
        try:
            self.events[key] = state_events(build())
        except InvalidDelivery as exc:
            self.refused[key] = exc.reason

    def merge(self, other: DealBatch) -> None:
        self.events.update(other.events)
        self.refused.update(other.refused)


def vendor_deal_id(deal_id: str, prefix: str) -> str:
    """The CRM's own id of a deal named either way: ``hubspot-9001`` or ``9001``."""
    return deal_id[len(prefix) :] if prefix and deal_id.startswith(prefix) else deal_id
