"""Batch folds of the agents, written against plain mappings so they run without Faust.

Each function takes the table(s) it owns as ``MutableMapping`` and a batch of already validated
input, updates the tables with one write per touched key, and returns what must be sent on.

Exactly-once effect over at-least-once delivery (docs/GUARANTEES.md): a worker killed mid-batch
replays input from its last checkpoint's offsets (``streams.state.engine``), while its stored
state may already hold some of that input (a spill) and some of its sends from that input may or
may not have reached Kafka. So

- every correction is tagged with its origin: ``src`` (input topic kind and partition) and the input
  offset that caused it;
- what an input message emits is a pure function of the log up to that offset (``C(<= o) - C(< o)``
  computed from the events each record keeps with their offsets), so a replay emits exactly the same
  corrections whether or not the first attempt's writes were stored;
- each KPI bucket keeps, per ``src``, the highest offset applied to it (stored in the bucket
  itself, so atomically with its data) and ignores corrections at or below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from projections.deal import (
    CustomerWin,
    DealEvent,
    acquiring_win,
    contribution_of,
    customer_win_of,
    fold_deal,
)
from projections.effects import Deltas, add_acquisition, add_call, add_cost, add_deal
from projections.tally import Tally
from streams.retention import first_offset, remember_seen, utc_day
from streams.routing import composite_key

Entry = tuple[str, int, int, Tally]  # (src, offset, quarter, correction)


class Corrections:
    """Offset-tagged KPI corrections per scope key, in the order they were caused."""

    __slots__ = ("by_key",)

    def __init__(self) -> None:
        self.by_key: dict[str, list[Entry]] = {}

    def add(self, src: str, offset: int, deltas: Deltas) -> None:
        for key, quarters in deltas.items():
            entries = self.by_key.setdefault(key, [])
            entries.extend((src, offset, quarter, tally) for quarter, tally in quarters)

    def absorb(self, other: Corrections) -> None:
        """Take in another fold's corrections (of other partitions: its sources are its own)."""
        for key, entries in other.by_key.items():
            self.by_key.setdefault(key, []).extend(entries)

    def items(self) -> Iterator[tuple[str, list[Entry]]]:
        """Entries per key in (src, offset) order: the order a bucket's applied marks rely on."""
        for key, entries in self.by_key.items():
            yield key, sorted(entries, key=lambda entry: (entry[0], entry[1]))

    def is_empty(self) -> bool:
        return not self.by_key


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
    deltas: Corrections = field(default_factory=Corrections)
    customer_changes: list[CustomerWinChange] = field(default_factory=list)

    def absorb(self, other: DealBatchResult) -> None:
        """Take in the result of the same fold over another partition's deals."""
        self.deltas.absorb(other.deltas)
        self.customer_changes.extend(other.customer_changes)


def _events_of(record: dict | None) -> dict[str, DealEvent]:
    if not record:
        return {}
    return {eid: DealEvent(at, seq, kind, attrs) for eid, at, seq, kind, attrs in record["events"]}


def _record_of(events: dict[str, DealEvent]) -> dict:
    ordered = sorted(events.items(), key=lambda item: item[1].seq)
    return {"events": [[eid, e.at_us, e.seq, e.kind, dict(e.attrs)] for eid, e in ordered]}


def _contribution_before(events: dict[str, DealEvent], offset: int, inclusive: bool):
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
        events = _events_of(deals.get(deal_id))
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
                src = f"d{item.partition}"
                deltas = Deltas()
                add_deal(deltas, before, -1)
                add_deal(deltas, after, +1)
                result.deltas.add(src, offset, deltas)
                result.customer_changes.extend(_win_changes(deal_id, before, after, offset))
        if changed:
            deals[deal_id] = _record_of(events)
    return result


def _win_changes(deal_id: str, before, after, offset: int) -> list[CustomerWinChange]:
    old, new = customer_win_of(deal_id, before), customer_win_of(deal_id, after)
    if old == new:
        return []
    changes = []
    if old is not None and (new is None or new[0] != old[0]):
        changes.append(CustomerWinChange(old[0], deal_id, None, offset))
    if new is not None:
        changes.append(CustomerWinChange(new[0], deal_id, new[1], offset))
    return changes


def win_to_json(win: CustomerWin | None) -> list | None:
    """``[won_at, rep, team, channel]``, and (v2) the segment appended when there is one, so
    a v1 win keeps its bytes."""
    if win is None:
        return None
    raw = [win.won_at, win.rep_id, win.team_id, win.channel]
    if win.segment is not None:
        raw.append(win.segment)
    return raw


def win_from_json(deal_id: str, raw: list | tuple | None) -> CustomerWin | None:
    if raw is None:
        return None
    segment = raw[4] if len(raw) > 4 else None
    return CustomerWin(raw[0], deal_id, raw[1], raw[2], raw[3], segment)


def _acquisition_as_of(
    history: dict[str, list], offset: int, inclusive: bool
) -> CustomerWin | None:
    """The acquiring win given the changes seen before (or up to) ``offset`` of customer-wins.

    Per deal the state with the highest source offset counts, so a replayed older state of a deal
    never overrides a newer one.
    """
    wins = []
    for deal_id, states in history.items():
        visible = [s for s in states if s[0] < offset or (inclusive and s[0] == offset)]
        if visible:
            _, _, win = max(visible, key=lambda s: s[1])
            if win is not None:
                wins.append(win_from_json(deal_id, win))
    return acquiring_win(wins)


def fold_customer_batch(
    customers: MutableMapping[str, dict], changes: Iterable[CustomerWinChange]
) -> Corrections:
    """Rule 4 incrementally: move a customer's acquisition when its earliest win changes.

    A customer keeps, per deal, the win states it was sent ([offset, source_offset, win]).
    """
    by_customer: dict[str, list[CustomerWinChange]] = {}
    for change in changes:
        by_customer.setdefault(change.customer_id, []).append(change)
    corrections = Corrections()
    for customer_id, items in by_customer.items():
        history = {
            deal: [list(s) for s in states]
            for deal, states in (customers.get(customer_id) or {}).items()
        }
        for change in sorted(items, key=lambda c: c.offset):
            states = history.setdefault(change.deal_id, [])
            if all(s[0] != change.offset for s in states):
                states.append([change.offset, change.source_offset, win_to_json(change.win)])
            before = _acquisition_as_of(history, change.offset, inclusive=False)
            after = _acquisition_as_of(history, change.offset, inclusive=True)
            if before != after:
                deltas = Deltas()
                add_acquisition(deltas, before, -1)
                add_acquisition(deltas, after, +1)
                corrections.add(f"c{change.partition}", change.offset, deltas)
        customers[customer_id] = history
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
        deltas = Deltas()
        if isinstance(item, IncomingCall):
            add_call(deltas, item.at_us, item.rep_id, item.team_id)
            corrections.add(f"k{item.partition}", item.offset, deltas)
        else:
            add_cost(
                deltas,
                item.at_us,
                item.category,
                item.amount,
                item.team_id,
                item.channel,
                item.segment,
            )
            corrections.add(f"x{item.partition}", item.offset, deltas)
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
