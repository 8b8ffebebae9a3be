"""Batch folds of the agents, written against plain mappings so they run without Faust.

Each function takes the table(s) it owns as ``MutableMapping`` and a batch of already validated
input, updates the tables with one write per touched key, and returns what must be sent on.

Exactly-once effect over at-least-once delivery (docs/GUARANTEES.md): a worker killed mid-batch
replays input from its last checkpoint's offsets (``streams.state.engine``), while its stored
state may already hold some of that input (a spill) and some of its sends from that input may or
may not have reached Kafka. So

- every correction is tagged with its origin: its ``Source`` (input kind and partition) and the
  input offset that caused it (``streams.corrections``);
- what an input message emits is a pure function of the log up to that offset (``C(<= o) - C(< o)``
  computed from the events each record keeps with their offsets), so a replay emits exactly the same
  corrections whether or not the first attempt's writes were stored;
- each KPI bucket keeps, per source, the highest offset applied to it (stored in the bucket
  itself, so atomically with its data) and ignores corrections at or below it.

The tables' values are JSON arrays; ``streams.fold_values`` names them and keeps their bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from projections.deal import (
    CustomerWin,
    DealContribution,
    DealEvent,
    acquiring_win,
    contribution_of,
    customer_win_of,
    fold_deal,
)
from projections.effects import (
    QuarterHourCorrections,
    add_acquisition,
    call_spread,
    cost_spread,
    deal_change,
)
from projections.state_types import Source, SourceKind
from streams.corrections import Corrections
from streams.deal_memory import closed_day
from streams.fold_values import (
    CustomerHistory,
    DealWinState,
    customer_history_from_wire,
    customer_history_to_wire,
    deal_events_from_wire,
    deal_events_to_wire,
)
from streams.retention import first_offset, remember_seen, utc_day
from streams.routing import composite_key


@dataclass(frozen=True, slots=True)
class IncomingDealEvent:
    """A deal event as the deal agent reads it; ``event.seq`` is its offset in ``partition``."""

    deal_id: str
    event_id: str
    event: DealEvent
    partition: int = 0


@dataclass(frozen=True, slots=True)
class CustomerWinChange:
    """A deal's win as its customer must now see it (``win=None``: no longer a win there).

    ``source_offset`` orders the states of one deal (the deal event that produced it);
    ``offset``/``partition`` locate the change itself on the customer-wins topic.
    """

    customer_id: str
    deal_id: str
    win: CustomerWin | None
    source_offset: int = 0
    offset: int = 0
    partition: int = 0


@dataclass
class DealBatchResult:
    """What a fold-deals batch sends on: corrections for the kpi-deltas topic (``corrections``) and
    win changes for customer-wins; and which of its deals it left closed (deal id -> UTC day of
    the latest event), so that they are forgotten once old (``streams.deal_memory``)."""

    corrections: Corrections = field(default_factory=Corrections)
    customer_changes: list[CustomerWinChange] = field(default_factory=list)
    closed: dict[str, int] = field(default_factory=dict)
    forgotten: int = 0
    """Closed deals deleted after the batch (``streams.deal_memory``), for the worker's metric."""

    def absorb(self, other: DealBatchResult) -> None:
        """Take in the result of the same fold over another partition's deals."""
        self.corrections.absorb(other.corrections)
        self.customer_changes.extend(other.customer_changes)
        self.closed.update(other.closed)
        self.forgotten += other.forgotten


def _contribution_before(
    events: dict[str, DealEvent], offset: int, inclusive: bool
) -> DealContribution | None:
    return contribution_of(
        fold_deal(e for e in events.values() if e.seq < offset or (inclusive and e.seq == offset))
    )


def fold_deal_batch(
    deals: MutableMapping[str, dict], batch: Iterable[IncomingDealEvent]
) -> DealBatchResult:
    """Absorb deal events (first offset of an event id wins) and emit what each one changed."""
    by_deal: dict[str, list[IncomingDealEvent]] = {}
    for item in batch:
        by_deal.setdefault(item.deal_id, []).append(item)
    result = DealBatchResult()
    for deal_id, items in by_deal.items():
        events = deal_events_from_wire(deals.get(deal_id))
        changed = False
        for item in sorted(items, key=lambda i: i.event.seq):
            known = events.get(item.event_id)
            if known is not None and known.seq != item.event.seq:
                continue  # a duplicate delivery: the first offset of this id is the one that counts
            if known is None:
                events[item.event_id] = item.event
                changed = True
            offset = item.event.seq
            before = _contribution_before(events, offset, inclusive=False)
            after = _contribution_before(events, offset, inclusive=True)
            if before != after:
                caused = deal_change(before, after)
                result.corrections.add(Source.of(SourceKind.DEAL, item.partition), offset, caused)
                result.customer_changes.extend(_win_changes(deal_id, before, after, offset))
        if changed:
            deals[deal_id] = deal_events_to_wire(events)
        day = closed_day(events)
        if day is not None:  # listed even when unchanged: a replay may follow a partial write
            result.closed[deal_id] = day
    return result


def _win_changes(
    deal_id: str, before: DealContribution | None, after: DealContribution | None, offset: int
) -> list[CustomerWinChange]:
    old, new = customer_win_of(deal_id, before), customer_win_of(deal_id, after)
    if old == new:
        return []
    changes = []
    if old is not None and (new is None or new.customer_id != old.customer_id):
        changes.append(CustomerWinChange(old.customer_id, deal_id, None, offset))
    if new is not None:
        changes.append(CustomerWinChange(new.customer_id, deal_id, new.win, offset))
    return changes


def _acquisition_as_of(
    history: CustomerHistory, position: int, inclusive: bool
) -> CustomerWin | None:
    """The acquiring win given the changes seen before (or up to) ``position`` of customer-wins.

    Per deal the state with the highest source offset counts, so a replayed older state of a deal
    never overrides a newer one.
    """
    wins = []
    for states in history.values():
        visible = [
            s for s in states if s.position < position or (inclusive and s.position == position)
        ]
        if visible:
            win = max(visible, key=lambda s: s.source_offset).win
            if win is not None:
                wins.append(win)
    return acquiring_win(wins)


def fold_customer_batch(
    customers: MutableMapping[str, dict], changes: Iterable[CustomerWinChange]
) -> Corrections:
    """Rule 4 incrementally: move a customer's acquisition when its earliest win changes.

    A customer keeps, per deal, the win states it was sent (``streams.fold_values``).
    """
    by_customer: dict[str, list[CustomerWinChange]] = {}
    for change in changes:
        by_customer.setdefault(change.customer_id, []).append(change)
    corrections = Corrections()
    for customer_id, items in by_customer.items():
        history = customer_history_from_wire(customers.get(customer_id))
        for change in sorted(items, key=lambda c: c.offset):
            states = history.setdefault(change.deal_id, [])
            if all(s.position != change.offset for s in states):
                states.append(DealWinState(change.offset, change.source_offset, change.win))
            before = _acquisition_as_of(history, change.offset, inclusive=False)
            after = _acquisition_as_of(history, change.offset, inclusive=True)
            if before != after:
                caused = QuarterHourCorrections()
                add_acquisition(caused, before, -1)
                add_acquisition(caused, after, +1)
                source = Source.of(SourceKind.CUSTOMER, change.partition)
                corrections.add(source, change.offset, caused.spreads())
        customers[customer_id] = customer_history_to_wire(history)
    return corrections


@dataclass(frozen=True, slots=True)
class IncomingCall:
    routing_key: str
    event_id: str
    at_us: int
    rep_id: str
    team_id: str
    offset: int = 0
    partition: int = 0


@dataclass(frozen=True, slots=True)
class IncomingCost:
    routing_key: str
    event_id: str
    at_us: int
    category: str
    amount: int
    team_id: str | None
    channel: str | None
    offset: int = 0
    partition: int = 0
    segment: str | None = None


def fold_activity_batch(
    seen: MutableMapping[str, Any],
    batch: Iterable[IncomingCall | IncomingCost],
    horizon_day: int | None = None,
) -> Corrections:
    """Calls and costs: an event id counts at the first offset it was seen at, and only there.

    With retention (``horizon_day``, the first UTC day kept, ``streams.retention``) an id is
    remembered with its event day, so it can be forgotten once that day is beyond the horizon;
    an event of a day already beyond it is not remembered at all, but still emitted: it counts
    only in a day the apply agent drops, i.e. nowhere, however often it is repeated, and its
    message carries the stream time that makes the apply agent drop it (design §8, I5).
    Without it, ids are kept forever as bare offsets (the shape before retention).
    """
    corrections = Corrections()
    for item in batch:
        key = composite_key(item.routing_key, item.event_id)
        first = first_offset(seen.get(key))
        if first is None:
            first = item.offset
            _remember(seen, key, item, horizon_day)
        if first != item.offset:
            continue
        if isinstance(item, IncomingCall):
            caused = call_spread(item.at_us, item.rep_id, item.team_id)
            source = Source.of(SourceKind.CALL, item.partition)
        else:
            caused = cost_spread(
                item.at_us, item.category, item.amount, item.team_id, item.channel, item.segment
            )
            source = Source.of(SourceKind.COST, item.partition)
        corrections.add(source, item.offset, [caused])
    return corrections


def _remember(
    seen: MutableMapping[str, Any], key: str, item: IncomingCall | IncomingCost, horizon: int | None
) -> None:
    if horizon is None:
        seen[key] = item.offset
        return
    day = utc_day(item.at_us)
    if day >= horizon:
        remember_seen(seen, key, item.offset, day)
