"""Closed deals forgotten by stream time, so a year of deals does not stay in the state forever.

Contract section 3 leaves it to us how long "a deal remembers its own events for as long as the
deal matters". A closed (won or lost) deal stops mattering to every retained window once all its
events are older than the retention horizon: its flows count only in pruned days, and its open
stock is back to zero in the stock totals. It matters again only if it is reopened, re-assigned
or changed later, or if its old events are delivered again; so the fold-deals agent keeps it for
``closed_deal_memory_days`` (default 400: a deal revived within about a year of its last event
is restated exactly) and then deletes it. What is left is bounded by the deals closed in that
many days, plus the open ones, which are never forgotten (open pipeline needs them).

After that, the deal is gone (docs/GUARANTEES.md, "Not guaranteed"): an event for it starts a
new deal from that event alone, and a duplicate of one of its events is not recognised (the
contract asks duplicates to be recognised while their event time is within retention only).

How: every time the fold stores a closed deal, ``deal_ix`` lists it under the UTC day of its
latest event (``day_text`` + deal id, the layout of the seen index); the partition's clock there
(``DEAL_CLOCK_KEY``) follows the latest deal event time, and when its horizon
(``stream day - closed_deal_memory_days``) passes a new day, the entries below it are read with
one range scan. An entry whose deal is still closed with no later event is the deal's end; an
entry made stale by a reopen or a later event is only dropped. The clock, the index and the
deals are one partition's state, checkpointed in one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from projections.deal import OPEN, DealEvent, fold_deal
from streams.fold_values import deal_events_from_wire
from streams.retention import DAY_TEXT_DIGITS, advance_clock, day_text, mark_pruned, utc_day

DEFAULT_CLOSED_DEAL_MEMORY_DAYS = 400
"""A closed deal is kept this many days after its latest event (setting
``closed_deal_memory_days``, never below ``retention_days``)."""
DEAL_CLOCK_KEY = "\U0010ffffstream-time"
"""Key of the fold-deals clock in its partition's ``deal_ix`` table: above every entry (those
start with the ten digits of ``day_text``)."""


def closed_day(events: Mapping[str, DealEvent]) -> int | None:
    """The UTC day of a closed deal's latest event; None for an open deal (or no events)."""
    if not events or fold_deal(events.values()).status == OPEN:
        return None
    return utc_day(max(event.at_us for event in events.values()))


def forget_closed_deals(
    deals: MutableMapping[str, Any], index: Any, below: int, lower: int | None
) -> int:
    """Delete the deals listed under a day in ``[lower, below)`` (``lower`` None: from the
    first) that are still closed with no event on or after ``below``; every entry read goes.
    ``index`` is a mutable mapping that lists keys by range (``retention.RangeTable``).
    Returns how many deals were forgotten."""
    start = day_text(lower) if lower is not None else ""
    forgotten = 0
    for entry in index.keys_between(start, day_text(below)):
        deal_id = entry[DAY_TEXT_DIGITS:]
        day = closed_day(deal_events_from_wire(deals.get(deal_id)))
        if day is not None and day < below:
            del deals[deal_id]
            forgotten += 1
        del index[entry]
    return forgotten


def track_closed_deals(
    deals: MutableMapping[str, Any],
    index: Any,
    closed: Mapping[str, int],
    stream_us: int | None,
    memory_days: int,
) -> int:
    """After a fold-deals batch of one partition: move its clock to the batch's latest event
    time, list the deals the batch left closed (deal id -> ``closed_day``), and forget the closed
    deals that passed the memory horizon since the last time (at most once per stream day).
    Returns how many deals were forgotten.

    A deal whose day is below what was already pruned (late events of an old deal) is listed at
    that bound instead, where the next prune looks."""
    clock = advance_clock(index, DEAL_CLOCK_KEY, stream_us, memory_days)
    floor = clock.pruned_below
    for deal_id, day in closed.items():
        index[day_text(day if floor is None else max(day, floor)) + deal_id] = 0
    if not clock.prune_due or clock.horizon is None:
        return 0
    forgotten = forget_closed_deals(deals, index, clock.horizon, clock.pruned_below)
    mark_pruned(index, DEAL_CLOCK_KEY, clock)
    return forgotten
