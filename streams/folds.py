"""Batch folds of the agents, written against plain mappings so they run without Faust.

Each function takes the table(s) it owns as ``MutableMapping`` and a batch of already validated
input, updates the tables with one write per touched key, and returns what must be sent on: KPI
corrections (``Deltas``) and, for deals, changes to customers' won deals. Faust agents call them
with their tables; unit tests call them with dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field

from projections.deal import (
    CustomerWin,
    DealEvent,
    acquiring_win,
    contribution_of,
    customer_win_of,
    fold_deal,
)
from projections.effects import Deltas, add_acquisition, add_call, add_cost, add_deal
from projections.readout import bucket_updates
from projections.tally import Tally
from projections.timebase import BucketGrid
from streams.routing import composite_key


@dataclass(frozen=True, slots=True)
class IncomingDealEvent:
    deal_id: str
    event_id: str
    event: DealEvent


@dataclass(frozen=True, slots=True)
class CustomerWinChange:
    """A deal's win as its customer must now see it (``win=None``: no longer a win there)."""

    customer_id: str
    deal_id: str
    win: CustomerWin | None


@dataclass
class DealBatchResult:
    deltas: Deltas = field(default_factory=Deltas)
    customer_changes: list[CustomerWinChange] = field(default_factory=list)


def _events_of(record: dict | None) -> list[tuple[str, DealEvent]]:
    if not record:
        return []
    return [
        (eid, DealEvent(at, seq, kind, attrs)) for eid, at, seq, kind, attrs in record["events"]
    ]


def _record_of(events: list[tuple[str, DealEvent]]) -> dict:
    return {"events": [[eid, e.at_us, e.seq, e.kind, dict(e.attrs)] for eid, e in events]}


def fold_deal_batch(
    deals: MutableMapping[str, dict], batch: Iterable[IncomingDealEvent]
) -> DealBatchResult:
    """Absorb new deal events, refold each touched deal once, emit its corrections."""
    by_deal: dict[str, list[IncomingDealEvent]] = {}
    for item in batch:
        by_deal.setdefault(item.deal_id, []).append(item)
    result = DealBatchResult()
    for deal_id, items in by_deal.items():
        known = _events_of(deals.get(deal_id))
        seen = {eid for eid, _ in known}
        fresh = []
        for item in items:
            if item.event_id not in seen:
                seen.add(item.event_id)
                fresh.append((item.event_id, item.event))
        if not fresh:
            continue
        before = contribution_of(fold_deal(e for _, e in known))
        after = contribution_of(fold_deal([e for _, e in known] + [e for _, e in fresh]))
        deals[deal_id] = _record_of(known + fresh)
        if before != after:
            add_deal(result.deltas, before, -1)
            add_deal(result.deltas, after, +1)
            result.customer_changes.extend(_win_changes(deal_id, before, after))
    return result


def _win_changes(deal_id: str, before, after) -> list[CustomerWinChange]:
    old, new = customer_win_of(deal_id, before), customer_win_of(deal_id, after)
    if old == new:
        return []
    changes = []
    if old is not None and (new is None or new[0] != old[0]):
        changes.append(CustomerWinChange(old[0], deal_id, None))
    if new is not None:
        changes.append(CustomerWinChange(new[0], deal_id, new[1]))
    return changes


def win_to_json(win: CustomerWin | None) -> list | None:
    return None if win is None else [win.won_at, win.rep_id, win.team_id, win.channel]


def win_from_json(deal_id: str, raw: list | None) -> CustomerWin | None:
    return None if raw is None else CustomerWin(raw[0], deal_id, raw[1], raw[2], raw[3])


def fold_customer_batch(
    customers: MutableMapping[str, dict], changes: Iterable[CustomerWinChange]
) -> Deltas:
    """Rule 4 incrementally: move a customer's acquisition when its earliest win changes."""
    by_customer: dict[str, list[CustomerWinChange]] = {}
    for change in changes:
        by_customer.setdefault(change.customer_id, []).append(change)
    deltas = Deltas()
    for customer_id, items in by_customer.items():
        wins = dict(customers.get(customer_id) or {})
        before = acquiring_win(win_from_json(d, w) for d, w in wins.items())
        for change in items:
            if change.win is None:
                wins.pop(change.deal_id, None)
            else:
                wins[change.deal_id] = win_to_json(change.win)
        after = acquiring_win(win_from_json(d, w) for d, w in wins.items())
        if wins:
            customers[customer_id] = wins
        elif customer_id in customers:
            del customers[customer_id]
        if before != after:
            add_acquisition(deltas, before, -1)
            add_acquisition(deltas, after, +1)
    return deltas


@dataclass(frozen=True, slots=True)
class IncomingCall:
    routing_key: str
    event_id: str
    at_us: int
    rep_id: str
    team_id: str


@dataclass(frozen=True, slots=True)
class IncomingCost:
    routing_key: str
    event_id: str
    at_us: int
    category: str
    amount: int
    team_id: str | None
    channel: str | None


def fold_activity_batch(
    seen: MutableMapping[str, int], batch: Iterable[IncomingCall | IncomingCost]
) -> Deltas:
    """Calls and costs: count each event id once, straight into its scopes."""
    deltas = Deltas()
    for item in batch:
        key = composite_key(item.routing_key, item.event_id)
        if key in seen:
            continue
        seen[key] = item.at_us
        if isinstance(item, IncomingCall):
            add_call(deltas, item.at_us, item.rep_id, item.team_id)
        else:
            add_cost(deltas, item.at_us, item.category, item.amount, item.team_id, item.channel)
    return deltas


def bucket_key(scope_key: str, grid_name: str, index: int) -> str:
    return composite_key(scope_key, grid_name, index)


def apply_kpi_batch(
    buckets: MutableMapping[str, list],
    live_keys: MutableMapping[str, int],
    corrections: Iterable[tuple[str, list[tuple[int, Tally]]]],
    grid: BucketGrid,
) -> None:
    """Add corrections to the buckets; ``live_keys`` counts each scope key's non-empty ones."""
    merged = Deltas()
    for scope_key, quarters in corrections:
        for quarter, tally in quarters:
            merged.at(scope_key, quarter).add(tally)
    for scope_key, quarters in merged.items():
        live = live_keys.get(scope_key, 0)
        for (grid_name, index), update in bucket_updates(quarters, grid).items():
            key = bucket_key(scope_key, grid_name, index)
            raw = buckets.get(key)
            bucket = Tally.from_json(raw)
            bucket.add(update)
            if bucket.is_empty():
                if raw is not None:
                    del buckets[key]
                    live -= 1
            else:
                buckets[key] = bucket.to_json()
                live += raw is None
        if live > 0:
            live_keys[scope_key] = live
        elif scope_key in live_keys:
            del live_keys[scope_key]
