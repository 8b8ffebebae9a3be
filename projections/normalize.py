"""Validated events (``events.models``) to the plain values the folds work on.

Event time becomes integer microseconds and amounts integer micro-units here, once, so the folds
and the tallies never touch floats or datetimes.
"""

from __future__ import annotations

from projections.deal import DealEvent
from projections.tally import to_micros
from projections.timebase import to_us

DEAL_KINDS = {
    "deal.created": "created",
    "deal.updated": "updated",
    "deal.won": "won",
    "deal.lost": "lost",
    "deal.reopened": "reopened",
}


def is_deal_event(event) -> bool:
    return event.type in DEAL_KINDS


def deal_event_of(event, seq: int) -> DealEvent:
    """``seq`` is the event's arrival position among its deal's events (its partition offset)."""
    attrs = dict(event.attributes())
    if attrs.get("amount") is not None:
        attrs["amount"] = to_micros(attrs["amount"])
    return DealEvent(
        at_us=to_us(event.occurred_at), seq=seq, kind=DEAL_KINDS[event.type], attrs=attrs
    )
