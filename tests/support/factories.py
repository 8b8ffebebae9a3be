"""Factories for the pure KPI tests: native events with defaults, folds and stores built from them.

Events are built as the JSON a client sends and go through ``validate_event`` like real input, so
the tests exercise the same normalisation (``projections.normalize``) as the product. Every helper
is pure: no Kafka, no Faust, tables are plain dicts.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache

from hypothesis import strategies as st

from events.models import EventPolicy, InvalidEvent, validate_event
from projections.deal import CustomerWin, DealEvent, contribution_of, fold_deal
from projections.kpis import OpenStock
from projections.normalize import deal_event_of, is_deal_event
from projections.readout import BucketStore, report
from projections.recompute import recompute
from projections.tally import Tally, to_micros
from projections.timebase import HOURLY, BucketGrid, to_us
from streams.fold_values import customer_history_from_wire
from streams.folds import (
    IncomingCall,
    IncomingCost,
    IncomingDealEvent,
    fold_activity_batch,
    fold_customer_batch,
    fold_deal_batch,
)
from streams.kpi_deltas import decode_kpi_deltas, encode_kpi_deltas
from streams.routing import parse_composite_key
from tests.support.golden import GOLDEN_AS_OF, GOLDEN_DIR
from tests.support.grid_buckets import apply_kpi_batch, bucket_key

UTC_GRID = BucketGrid()
PARTITIONS = 8
"""Partitions of the kpi-deltas messages ``FoldTables`` routes corrections through."""
# Far enough ahead that no test event is "in the future" for validation.
POLICY = EventPolicy(clock=lambda: datetime(2100, 1, 1, tzinfo=UTC))

_ids = itertools.count(1)


def ts(text: str) -> datetime:
    """An aware datetime from RFC 3339 text (``Z`` or an offset)."""
    return datetime.fromisoformat(text)


def us(text: str) -> int:
    return to_us(ts(text))


def event(event_type: str, at: str, event_id: str | None = None, **fields: object) -> dict:
    """A native event object; fields passed as ``None`` are left out (absent, not null)."""
    obj = {"event_id": event_id or f"ev-{next(_ids)}", "type": event_type, "occurred_at": at}
    obj.update({name: value for name, value in fields.items() if value is not None})
    return obj


def created(
    deal_id: str = "d-1",
    at: str = "2026-02-10T09:00:00Z",
    *,
    rep_id: str = "rep-1",
    team_id: str = "team-1",
    customer_id: str = "cust-1",
    amount: float = 100,
    channel: str | None = "email",
    **more: object,
) -> dict:
    return event(
        "deal.created",
        at,
        deal_id=deal_id,
        rep_id=rep_id,
        team_id=team_id,
        customer_id=customer_id,
        amount=amount,
        channel=channel,
        **more,
    )


def updated(deal_id: str = "d-1", at: str = "2026-02-11T09:00:00Z", **attrs: object) -> dict:
    return event("deal.updated", at, deal_id=deal_id, **attrs)


def won(deal_id: str = "d-1", at: str = "2026-02-12T09:00:00Z", **attrs: object) -> dict:
    return event("deal.won", at, deal_id=deal_id, **attrs)


def lost(deal_id: str = "d-1", at: str = "2026-02-12T09:00:00Z", **attrs: object) -> dict:
    return event("deal.lost", at, deal_id=deal_id, **attrs)


def reopened(deal_id: str = "d-1", at: str = "2026-02-13T09:00:00Z", **attrs: object) -> dict:
    return event("deal.reopened", at, deal_id=deal_id, **attrs)


def call(
    at: str = "2026-02-12T10:00:00Z", rep_id: str = "rep-1", team_id: str = "team-1", **more
) -> dict:
    return event("call.logged", at, rep_id=rep_id, team_id=team_id, **more)


def cost(
    at: str = "2026-02-12T10:00:00Z",
    amount: float = 50,
    category: str = "marketing",
    team_id: str | None = None,
    channel: str | None = None,
    **more: object,
) -> dict:
    return event(
        "cost.incurred",
        at,
        amount=amount,
        category=category,
        team_id=team_id,
        channel=channel,
        **more,
    )


def validated(objects: Iterable[dict]) -> list:
    return [validate_event(obj, POLICY) for obj in objects]


def deal_events(objects: Sequence[dict]) -> list[DealEvent]:
    """The fold's view of one deal's native events; ``seq`` is the arrival position."""
    return [deal_event_of(e, seq) for seq, e in enumerate(validated(objects))]


def contribution(objects: Sequence[dict]):
    return contribution_of(fold_deal(deal_events(objects)))


def store_of(objects: Iterable[dict], tz: str = "UTC") -> BucketStore:
    """The from-scratch reference over native event objects in arrival order."""
    return recompute(validated(objects), BucketGrid(tz))


def kpis_at(store: BucketStore, key: str, window: str, now: datetime) -> dict | None:
    """One window of a key's report, or ``None`` when the key is not reported at all."""
    windows = report(store.lookup, key, now, store.grid)
    return None if windows is None else windows[window]


def bucket_table_of(store: BucketStore) -> dict[str, list]:
    """A BucketStore in the shape of the ``buckets`` table that ``apply_kpi_batch`` writes."""
    return {bucket_key(k, g, i): t.to_json() for (k, g, i), t in store.buckets.items()}


@dataclass
class FoldTables:
    """The tables of all agents as plain dicts, fed batch by batch like the pipeline does.

    Arrival positions stand for partition offsets (one partition per topic); customer-win
    changes get offsets of their own, in the order the deal fold emits them. Corrections travel
    as the apply agent reads them: encoded into kpi-deltas messages (``PARTITIONS`` of them) and
    decoded again, message by message. ``buckets``,
    ``live_keys`` and ``customers`` are views of the KPI content (non-empty tallies, keys with
    one, each customer's current wins); the raw tables, applied offsets included, are the
    ``*_rows`` fields.
    """

    grid: BucketGrid = UTC_GRID
    deals: dict = field(default_factory=dict)
    customer_rows: dict = field(default_factory=dict)
    seen: dict = field(default_factory=dict)
    bucket_rows: dict = field(default_factory=dict)
    key_rows: dict = field(default_factory=dict)
    arrivals: itertools.count = field(default_factory=itertools.count, repr=False)
    win_offsets: itertools.count = field(default_factory=itertools.count, repr=False)

    def feed(self, batch: Sequence[tuple[int, object]]) -> None:
        """One batch of (arrival position, validated event): deals, customers, activity, KPIs."""
        deal_batch = [
            IncomingDealEvent(e.deal_id, e.event_id, deal_event_of(e, seq))
            for seq, e in batch
            if is_deal_event(e)
        ]
        result = fold_deal_batch(self.deals, deal_batch)
        changes = [replace(c, offset=next(self.win_offsets)) for c in result.customer_changes]
        acquisitions = fold_customer_batch(self.customer_rows, changes)
        activity = fold_activity_batch(
            self.seen, [activity_of(e, seq) for seq, e in batch if not is_deal_event(e)]
        )
        corrections = [
            pair
            for sent in (result.corrections, acquisitions, activity)
            for message in encode_kpi_deltas(sent.items(), PARTITIONS)
            for pair in decode_kpi_deltas(message.value, message.partition, PARTITIONS)
        ]
        apply_kpi_batch(self.bucket_rows, self.key_rows, corrections, self.grid)

    @property
    def buckets(self) -> dict[str, list]:
        return {
            key: row[:3]
            for key, row in self.bucket_rows.items()
            if not Tally.from_json(row).is_empty()
        }

    @property
    def live_keys(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key in self.buckets:
            scope_key = parse_composite_key(key)[0]
            counts[scope_key] = counts.get(scope_key, 0) + 1
        return counts

    @property
    def customers(self) -> dict[str, dict[str, CustomerWin]]:
        """Each customer's current wins per deal: every deal's latest state, when a win."""
        current = {}
        for customer, value in self.customer_rows.items():
            history = customer_history_from_wire(value)
            latest = {
                deal: max(states, key=lambda s: s.source_offset).win
                for deal, states in history.items()
            }
            wins = {deal: win for deal, win in latest.items() if win is not None}
            if wins:
                current[customer] = wins
        return current

    def feed_all(self, events: Sequence, batch_size: int) -> FoldTables:
        """Validated events in arrival order, cut into batches of ``batch_size``."""
        indexed = [(next(self.arrivals), e) for e in events]
        for start in range(0, len(indexed), batch_size):
            self.feed(indexed[start : start + batch_size])
        return self

    def feed_batches(self, batches: Sequence[Sequence[dict]]) -> FoldTables:
        """Native event objects, batch by batch; arrival positions run on across calls."""
        for batch in batches:
            self.feed([(next(self.arrivals), e) for e in validated(batch)])
        return self

    def lookup(self, key: str, grid_name: str, index: int) -> Tally | None:
        raw = self.bucket_rows.get(bucket_key(key, grid_name, index))
        return None if raw is None else Tally.from_json(raw)

    def open_stock(self, key: str, end_hour: int) -> OpenStock:
        """The key's open deals at hour ``end_hour``: its hour buckets' stock changes before."""
        hours = [
            Tally.from_json(row).counts
            for raw_key, row in self.bucket_rows.items()
            if (parts := parse_composite_key(raw_key))[0] == key
            and parts[1] == HOURLY
            and parts[2] < end_hour
        ]
        return OpenStock(
            *(sum(c.get(name, 0) for c in hours) for name in OPEN_STOCK_FIELDS)  # type: ignore[arg-type]
        )

    def report_all(self, now: datetime) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for key in sorted(self.key_rows):
            windows = report(self.lookup, key, now, self.grid, self.open_stock)
            for window, kpis in (windows or {}).items():
                out[f"{key}|{window}"] = kpis
        return out


OPEN_STOCK_FIELDS = ("open_delta", "open_amount_delta", "open_weighted_delta")


def activity_of(e, offset: int = 0) -> IncomingCall | IncomingCost:
    """A call or cost as its agent receives it; the routing key is the topic key (section 7)."""
    at = to_us(e.occurred_at)
    if e.type == "call.logged":
        return IncomingCall(e.rep_id, e.event_id, at, e.rep_id, e.team_id, offset)
    amount = to_micros(e.amount)
    return IncomingCost(
        e.team_id or "company",
        e.event_id,
        at,
        e.category,
        amount,
        e.team_id,
        e.channel,
        offset,
        segment=e.segment,
    )


@cache
def golden_objects() -> tuple[dict, ...]:
    with (GOLDEN_DIR / "events.jsonl").open(encoding="utf-8") as lines:
        return tuple(json.loads(line) for line in lines)


@cache
def golden_events() -> tuple:
    """The valid golden events in arrival order, duplicates kept; invalid lines dropped."""
    accepted = []
    for obj in golden_objects():
        try:
            accepted.append(validate_event(obj, EventPolicy(clock=lambda: GOLDEN_AS_OF)))
        except InvalidEvent:
            continue
    return tuple(accepted)


@cache
def golden_expected() -> dict:
    with (GOLDEN_DIR / "expected.json").open(encoding="utf-8") as expected:
        return json.load(expected)


# Hypothesis strategies for native event streams.

DEAL_TYPES = ["deal.created", "deal.updated", "deal.won", "deal.lost", "deal.reopened"]
ATTRIBUTES = {
    "rep_id": st.sampled_from(["r-0", "r-1", "r-2"]),
    "team_id": st.sampled_from(["t-0", "t-1"]),
    "customer_id": st.sampled_from(["c-0", "c-1"]),
    "amount": st.sampled_from([0, 1.5, 100, 2500.25]),
    "channel": st.sampled_from(["email", "event"]),
}
REQUIRED = {"deal.created": ("rep_id", "team_id", "customer_id", "amount")}


@st.composite
def deal_event(draw) -> dict:
    kind = draw(st.sampled_from(DEAL_TYPES))
    attrs = draw(st.fixed_dictionaries({}, optional=ATTRIBUTES))
    for name in REQUIRED.get(kind, ()):
        attrs.setdefault(name, draw(ATTRIBUTES[name]))
    return {"type": kind, "deal_id": draw(st.sampled_from(["d-0", "d-1", "d-2", "d-3"])), **attrs}


@st.composite
def activity_event(draw) -> dict:
    if draw(st.booleans()):
        return {
            "type": "call.logged",
            "rep_id": draw(ATTRIBUTES["rep_id"]),
            "team_id": draw(ATTRIBUTES["team_id"]),
        }
    cost = {
        "type": "cost.incurred",
        "amount": draw(st.sampled_from([3, 7.25])),
        "category": draw(st.sampled_from(["marketing", "sales"])),
    }
    cost.update(
        draw(
            st.fixed_dictionaries(
                {}, optional={"team_id": ATTRIBUTES["team_id"], "channel": ATTRIBUTES["channel"]}
            )
        )
    )
    return cost


@st.composite
def event_streams(draw, instants: list[str], max_size: int = 30) -> list[dict]:
    """Native events in arrival order at some of ``instants``; some are redeliveries (same id).

    Small and dense on purpose: few deals, customers, reps and instants, so that ties on
    occurred_at, reopen/re-win cycles, re-assignments, acquisitions moving between deals and
    exact duplicates are all common.
    """
    stream: list[dict] = []
    for number in range(draw(st.integers(min_value=1, max_value=max_size))):
        if stream and draw(st.integers(0, 5)) == 0:
            stream.append(draw(st.sampled_from(stream)))
            continue
        body = draw(st.one_of(deal_event(), deal_event(), activity_event()))
        stream.append(
            {"event_id": f"p-{number}", "occurred_at": draw(st.sampled_from(instants)), **body}
        )
    return stream
