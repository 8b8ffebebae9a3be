"""Validated events (``events.models``) to the plain values the folds work on.

Event time becomes integer microseconds and amounts integer micro-units of the reporting currency
here, once, so the folds and the tallies never touch floats, datetimes or currencies. An amount in
another currency is converted by the rate of its event's UTC day (``events.currency``).
"""

from __future__ import annotations

from events.currency import RateTable
from projections.deal import DealEvent, DealEventKind
from projections.tally import PROBABILITY_SCALE, to_micros
from projections.timebase import to_us

DEAL_KINDS = {
    "deal.created": DealEventKind.CREATED,
    "deal.updated": DealEventKind.UPDATED,
    "deal.won": DealEventKind.WON,
    "deal.lost": DealEventKind.LOST,
    "deal.reopened": DealEventKind.REOPENED,
}
"""The deal event types of the contract, and what each does to its deal."""


def is_deal_event(event) -> bool:
    return event.type in DEAL_KINDS


def to_ppm(probability: float) -> int:
    """A probability (0..1, validated at the edge) in integer parts per million."""
    return round(probability * PROBABILITY_SCALE)


def amount_micros(event, rates: RateTable | None) -> int:
    """The event's ``amount`` in micro-units of the reporting currency.

    Without rates, or in the reporting currency (or none stated), the amount is taken as it is.
    """
    currency = event.currency
    if rates is None or currency is None or currency == rates.reporting_currency:
        return to_micros(event.amount)
    return rates.to_reporting_micros(event.amount, currency, event.occurred_at)


def deal_event_of(event, seq: int, rates: RateTable | None = None) -> DealEvent:
    """``seq`` is the event's arrival position among its deal's events (its partition offset).
    A (v2) probability becomes integer parts per million, so weighted sums stay exact."""
    attrs = dict(event.attributes())
    if attrs.get("amount") is not None:
        attrs["amount"] = amount_micros(event, rates)
    if attrs.get("probability") is not None:
        attrs["probability"] = to_ppm(attrs["probability"])
    return DealEvent(
        at_us=to_us(event.occurred_at), seq=seq, kind=DEAL_KINDS[event.type], attrs=attrs
    )
