"""Pipedrive webhooks (v1 and v2, deal objects) to native deal events.

A Pipedrive delivery carries the deal's current state and what it was before (v1: the whole
previous deal; v2: only the changed fields), so status transitions are known without state:

- create (v1 ``added.deal``): deal.created at ``add_time`` when owner, customer and value are
  known (else deal.updated), plus deal.won / deal.lost if the deal is created closed;
- change (v1 ``updated.deal``): deal.updated with the current attributes, plus the status
  transition when ``previous`` has a different status: to won -> deal.won at ``won_time``, to
  lost -> deal.lost at ``lost_time`` (with ``lost_reason``), back to open -> deal.reopened;
- delete / merge and other objects: acknowledged and ignored (the contract has no deletion).

Attributes: ``probability`` is a percent (null: the stage's, from the mapping's
``stage_probabilities`` when listed), divided by 100; ``segment`` comes from ``segment_field``.

Currency: the deal's own ``currency`` (v1 and v2), else the mapping's ``pipedrive.currency``.

A webhook is one item: when it cannot be mapped it fails alone (``ItemOutcome``), and only a
body that is not a Pipedrive webhook at all (``check_delivery``) is refused at the edge. Ids come
from the deal's state (``events.crm.deal_ids``): a retry (``retry``, ``meta.attempt``) and a
``crm sync`` of the same facts give the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
    text_id,
    vendor_time,
)
from events.crm.mapping import CrmMapping

VENDOR = "pipedrive"
_V1_ACTIONS = {"added": "create", "updated": "change", "deleted": "delete", "merged": "merge"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PipedriveDelivery:
    """One webhook, either version, reduced to what the mapping reads."""

    action: str  # create | change | delete | merge | ...
    entity: str
    current: dict | None
    previous: dict | None
    at: datetime
    identity: tuple


def check_delivery(payload: object) -> dict:
    """The webhook object; InvalidDelivery when the body as a whole is not a Pipedrive webhook."""
    if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict):
        raise InvalidDelivery("body: must be a Pipedrive webhook object with a 'meta' object")
    return payload


def pipedrive_events(payload: object, mapping: CrmMapping) -> list[dict]:
    """Native events for one webhook; InvalidDelivery if it is malformed."""
    return strict_events(pipedrive_outcomes(payload, mapping))


def pipedrive_outcomes(payload: object, mapping: CrmMapping) -> list[ItemOutcome]:
    """The webhook's one item: its events, a skip or a failure."""
    check_delivery(payload)
    try:
        delivery = parse_delivery(payload)
    except InvalidDelivery as exc:
        return [ItemOutcome(0, failure=exc.reason)]
    if delivery.entity != "deal":
        return [ItemOutcome(0, skipped="not_a_deal")]
    if delivery.action not in ("create", "change"):
        return [ItemOutcome(0, skipped=_SKIPPED_ACTIONS.get(delivery.action, "other_event"))]
    current = delivery.current or {}
    deal = text_id(current.get("id"))
    return [item_outcome(0, deal, lambda: _deal_events(delivery, deal, mapping))]


_SKIPPED_ACTIONS = {"delete": "deletion", "merge": "merge"}


def _deal_events(delivery: PipedriveDelivery, deal: str | None, mapping: CrmMapping) -> list:
    if delivery.current is None:
        raise InvalidDelivery("current deal: required for a create or change of a deal")
    if deal is None:
        raise InvalidDelivery("current deal.id: required")
    emit = _Emitter(delivery, f"{mapping.pipedrive.deal_id_prefix}{deal}")
    attrs = deal_attrs(delivery.current, mapping)
    if delivery.action == "create":
        return _created(emit, delivery, attrs)
    return _changed(emit, delivery, attrs)


def parse_delivery(payload: object) -> PipedriveDelivery:
    meta = check_delivery(payload)["meta"]
    if str(meta.get("version", "")).startswith("2") or "entity" in meta:
        return _parse_v2(payload, meta)
    return _parse_v1(payload, meta)


def _parse_v2(payload: dict, meta: dict) -> PipedriveDelivery:
    action, entity = meta.get("action"), meta.get("entity")
    if not isinstance(action, str) or not isinstance(entity, str):
        raise InvalidDelivery("meta.action and meta.entity: required strings (webhooks v2)")
    uuid = text_id(meta.get("id"))
    if uuid is None:
        raise InvalidDelivery("meta.id: required (the event id of webhooks v2)")
    at = vendor_time(meta.get("timestamp"))
    if at is None:
        raise InvalidDelivery("meta.timestamp: required (RFC 3339 or epoch)")
    return PipedriveDelivery(
        action=action,
        entity=entity,
        current=_object_or_none(payload.get("data"), "data"),
        previous=_object_or_none(payload.get("previous"), "previous"),
        at=at,
        identity=("v2", text_id(meta.get("company_id")), uuid),
    )


# datetime's range ends in year 9999: larger vendor stamps are refused, never an overflow.
_MAX_MICRO = 253_402_300_799 * 1_000_000


def _parse_v1(payload: dict, meta: dict) -> PipedriveDelivery:
    event = payload.get("event") if isinstance(payload.get("event"), str) else ""
    verb, _, noun = event.partition(".")
    action = meta.get("action") if isinstance(meta.get("action"), str) else verb
    entity = meta.get("object") if isinstance(meta.get("object"), str) else noun
    if not action or not entity:
        raise InvalidDelivery(
            "event (e.g. 'updated.deal') or meta.action and meta.object: required"
        )
    micro = meta.get("timestamp_micro")
    if isinstance(micro, int) and not isinstance(micro, bool) and 0 < micro < _MAX_MICRO:
        at, stamp = _EPOCH + timedelta(microseconds=micro), micro
    else:
        at, stamp = vendor_time(meta.get("timestamp")), meta.get("timestamp")
    if at is None:
        raise InvalidDelivery("meta.timestamp: required (epoch seconds)")
    action = _V1_ACTIONS.get(action, action)
    identity = ("v1", text_id(meta.get("company_id")), entity, text_id(meta.get("id")), action)
    return PipedriveDelivery(
        action=action,
        entity=entity,
        current=_object_or_none(payload.get("current"), "current"),
        previous=_object_or_none(payload.get("previous"), "previous"),
        at=at,
        identity=(*identity, stamp),
    )


def _object_or_none(value: object, where: str) -> dict | None:
    if value is None or isinstance(value, dict):
        return value
    raise InvalidDelivery(f"{where}: must be an object or null")


def _lookup(deal: dict, path: str) -> object:
    """A field by name, or a dotted path into nested objects (``custom_fields.<key>``)."""
    value: object = deal
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def deal_attrs(deal: dict, mapping: CrmMapping) -> dict:
    """The deal's native attributes: owner, customer, amount, channel, segment, probability."""
    config = mapping.pipedrive
    owner = text_id(deal["owner_id"] if "owner_id" in deal else deal.get("user_id"))
    attrs: dict = dict(mapping.owner_attrs(config, owner))
    for field in config.customer_fields:
        customer = text_id(_lookup(deal, field))
        if customer is not None:
            attrs["customer_id"] = customer
            break
    amount = parse_amount(deal.get("value"), "deal.value")
    if amount is not None:
        currency = text_id(deal.get("currency")) or config.currency
        attrs.update(amount=amount, currency=currency)
    if config.channel_field:
        attrs["channel"] = text_id(_lookup(deal, config.channel_field))
    if config.segment_field:
        attrs["segment"] = mapping.segment(config, text_id(_lookup(deal, config.segment_field)))
    attrs["probability"] = _probability(deal, mapping)
    return {name: value for name, value in attrs.items() if value is not None}


def _probability(deal: dict, mapping: CrmMapping) -> int | float | None:
    """The deal's own probability (percent), else its stage's from ``stage_probabilities``.

    Pipedrive leaves a deal's probability null to mean "the stage's", but its webhooks carry
    only the stage id, never the stage's probability: the mapping's table supplies it.
    """
    config = mapping.pipedrive
    if not config.probability_field:
        return None
    field = config.probability_field
    own = parse_probability(_lookup(deal, field), PERCENT, f"deal.{field}")
    if own is not None:
        return own
    stage = text_id(deal.get("stage_id"))
    if stage is None or stage not in config.stage_probabilities:
        return None
    return parse_probability(config.stage_probabilities[stage], PERCENT, f"stage {stage}")


class _Emitter:
    """Builds the native events of one delivery: same deal, ids from the deal's state."""

    def __init__(self, delivery: PipedriveDelivery, deal_id: str) -> None:
        self.delivery, self.deal_id = delivery, deal_id

    def __call__(self, kind: str, at: datetime | None, attrs: dict) -> dict:
        at = at or self.delivery.at
        event_id = deal_ids.event_id(VENDOR, self.deal_id, kind, at, attrs)
        return deal_event(kind, event_id, self.deal_id, at, VENDOR, attrs)


def _created(emit: _Emitter, delivery: PipedriveDelivery, attrs: dict) -> list[dict]:
    deal = delivery.current or {}
    kind = created_or_updated(attrs)
    events = []
    if kind == "deal.created" or attrs:
        events.append(emit(kind, vendor_time(deal.get("add_time")), attrs))
    return events + _status_events(emit, deal.get("status"), deal)


def _changed(emit: _Emitter, delivery: PipedriveDelivery, attrs: dict) -> list[dict]:
    deal, previous = delivery.current or {}, delivery.previous or {}
    events = [emit("deal.updated", None, attrs)] if attrs else []
    status = deal.get("status")
    if "status" in previous and previous["status"] != status:
        events += _status_events(emit, status, deal)
        if status == "open":
            events.append(emit("deal.reopened", None, {}))
    return events


def _status_events(emit: _Emitter, status: object, deal: dict) -> list[dict]:
    """deal.won / deal.lost for a closed status, at the CRM's own won/lost time when present."""
    if status == "won":
        return [emit("deal.won", vendor_time(deal.get("won_time")), {})]
    if status == "lost":
        reason = deal.get("lost_reason")
        extra = {"reason": reason} if isinstance(reason, str) and reason else {}
        return [emit("deal.lost", vendor_time(deal.get("lost_time")), extra)]
    return []
