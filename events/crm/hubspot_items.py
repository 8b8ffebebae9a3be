"""The items of a HubSpot webhook delivery read one by one: deal events, skips, malformed items.

A delivery is a JSON array of at most 100 subscription events. Each item is read on its own: a
deal ``creation`` or ``propertyChange`` becomes a ``HubSpotEvent``; what the product does not use
(other objects, deletions, association changes, merges) is skipped with a bounded reason; a
malformed item fails alone, with the deal it names when it names one. ``events.crm.hubspot``
maps the deal events to native events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events.crm.common import (
    InvalidDelivery,
    ItemOutcome,
    epoch_ms_time,
    from_epoch_ms,
    text_id,
    too_many,
)

MAX_EVENTS = 100
DEAL_OBJECT_TYPE_ID = "0-3"
"""The generic ``object.*`` subscriptions name deals by this object type id."""
MAPPED_KINDS = ("creation", "propertyChange")


@dataclass(frozen=True)
class HubSpotEvent:
    """The fields of one deal subscription event that the mapping reads."""

    index: int
    kind: str  # creation | propertyChange
    object_id: str
    occurred_ms: int
    property_name: str | None
    property_value: object

    @property
    def occurred_at(self) -> datetime:
        return from_epoch_ms(self.occurred_ms)


def check_delivery(payload: object) -> list:
    """The delivery's items; InvalidDelivery when the body as a whole is not a HubSpot batch."""
    if not isinstance(payload, list):
        raise InvalidDelivery("body: must be a JSON array of HubSpot events")
    if not payload:
        raise InvalidDelivery("body: the array holds no event")
    if len(payload) > MAX_EVENTS:
        raise too_many(len(payload), MAX_EVENTS, "events")
    return payload


def parse_item(index: int, item: object) -> HubSpotEvent | ItemOutcome:
    """The deal event of an item, or its outcome when it is skipped or malformed."""
    try:
        return _parse(index, item)
    except InvalidDelivery as exc:
        return ItemOutcome(index, failure=exc.reason, deal=_object_id(item))
    except _Skip as skip:  # no deal: a skipped item is never asked about
        return ItemOutcome(index, skipped=skip.reason)


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _object_id(item: object) -> str | None:
    return text_id(item.get("objectId")) if isinstance(item, dict) else None


def _parse(index: int, item: object) -> HubSpotEvent:
    """The deal event of an item; ``_Skip`` for what is not used, InvalidDelivery if malformed."""
    where = f"[{index}]"
    if not isinstance(item, dict):
        raise InvalidDelivery(f"{where}: must be a JSON object")
    subject, _, kind = _required_str(item, "subscriptionType", where).partition(".")
    if subject == "object":
        is_deal = text_id(item.get("objectTypeId")) == DEAL_OBJECT_TYPE_ID
    else:
        is_deal = subject == "deal"
    if not is_deal:
        raise _Skip("not_a_deal")
    if kind not in MAPPED_KINDS:
        raise _Skip(_skip_reason(kind))
    occurred_ms = item.get("occurredAt")
    if epoch_ms_time(occurred_ms) is None:
        raise InvalidDelivery(f"{where}.occurredAt: must be epoch milliseconds")
    name = item.get("propertyName")
    return HubSpotEvent(
        index=index,
        kind=kind,
        object_id=_required_id(item, "objectId", where),
        occurred_ms=occurred_ms,
        property_name=name if isinstance(name, str) else None,
        property_value=item.get("propertyValue"),
    )


def _skip_reason(kind: str) -> str:
    """A bounded label for the metrics: the kinds HubSpot documents, else ``other_event``."""
    known = {
        "deletion": "deletion",
        "associationChange": "association_change",
        "merge": "merge",
        "restore": "restore",
        "privacyDeletion": "deletion",
    }
    return known.get(kind, "other_event")


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
