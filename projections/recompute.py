"""The batch computation of contract section 2: KPIs from scratch over a deduplicated event log.

It is the yardstick the streaming core is held to (golden data, chaos tests, rebuild checks). It
reuses the pure folds but none of the streaming machinery: no retractions, no partitions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from events.currency import RateTable
from projections.deal import (
    CustomerWin,
    DealEvent,
    acquiring_win,
    contribution_of,
    customer_win_of,
    fold_deal,
)
from projections.effects import (
    QuarterHourCorrections,
    add_acquisition,
    add_call,
    add_deal,
    cost_spread,
)
from projections.normalize import amount_micros, deal_event_of, is_deal_event
from projections.readout import BucketStore
from projections.timebase import BucketGrid, to_us


def recompute(
    events_in_arrival_order: Iterable, grid: BucketGrid, rates: RateTable | None = None
) -> BucketStore:
    """Fold validated events (arrival order, duplicates allowed) into fresh buckets.

    ``rates`` converts amounts in other currencies, as the workers do (``events.currency``).
    """
    seen: set[str] = set()
    deals: dict[str, list[DealEvent]] = defaultdict(list)
    corrections = QuarterHourCorrections()
    for seq, event in enumerate(events_in_arrival_order):
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        if is_deal_event(event):
            deals[event.deal_id].append(deal_event_of(event, seq, rates))
        elif event.type == "call.logged":
            add_call(corrections, to_us(event.occurred_at), event.rep_id, event.team_id)
        elif event.type == "cost.incurred":
            spread = cost_spread(
                to_us(event.occurred_at),
                event.category,
                amount_micros(event, rates),
                event.team_id,
                event.channel,
                event.segment,
            )
            corrections.include(spread)
    wins: dict[str, list[CustomerWin]] = defaultdict(list)
    for deal_id, deal_events in deals.items():
        contribution = contribution_of(fold_deal(deal_events))
        add_deal(corrections, contribution)
        offered = customer_win_of(deal_id, contribution)
        if offered is not None:
            wins[offered.customer_id].append(offered.win)
    for customer_wins in wins.values():
        add_acquisition(corrections, acquiring_win(customer_wins))
    store = BucketStore(grid)
    store.apply(corrections)
    return store
