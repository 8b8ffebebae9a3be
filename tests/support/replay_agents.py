"""The five agents' batch handlers over the model's logs (``tests.support.replay_model``).

Why a module of their own: they are the part that must match ``streams.pipeline`` (which fold
an agent runs, what it sends where, and in which encoding: customer-wins batched per partition
through ``streams.customer_wins``, kpi-deltas through ``streams.kpi_deltas``), while the model
around them only moves records, states and crashes.
A handler takes the agent's tables (mappings, as the folds want them) and a batch of
``(partition, offset, record)``, updates the tables, and returns what the agent would send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from projections.day_values import apply_day_batch, day_entries_of
from projections.normalize import deal_event_of, is_deal_event
from projections.timebase import BucketGrid
from streams.customer_wins import decode_customer_wins, encode_customer_wins
from streams.folds import (
    Corrections,
    IncomingDealEvent,
    fold_activity_batch,
    fold_customer_batch,
    fold_deal_batch,
)
from streams.kpi_deltas import decode_kpi_deltas, encode_kpi_deltas, read_kpi_deltas
from streams.pipeline import by_partition
from streams.retention import (
    apply_horizon,
    forget_idle_keys,
    leaves_a_trace,
    max_stream_us,
    prune_days_if_due,
    prune_seen_if_due,
    seen_horizon,
)
from tests.unit.factories import activity_of

Batch = list[tuple[int, int, Any]]


@dataclass(frozen=True, slots=True)
class Output:
    """A record an agent handed to its producer: where it goes, and its key and value."""

    topic: str
    partition: int
    key: str
    value: bytes


def placement(event: Any) -> tuple[str, str]:
    """(input topic, routing key) of a validated event, as ``events.topics.route`` places it."""
    if is_deal_event(event):
        return "deal-events", event.deal_id
    if event.type == "call.logged":
        return "call-events", event.rep_id
    return "cost-events", event.team_id or "company"


def kpi_outputs(
    corrections: Corrections, partitions: int, stream_us: int | None = None
) -> list[Output]:
    return [
        Output("kpi-deltas", m.partition, m.key.decode(), m.value)
        for m in encode_kpi_deltas(corrections.items(), partitions, stream_us=stream_us)
    ]


class PartState:
    """One agent's tables as ``streams.pipeline.AgentState`` hands them out per partition."""

    def __init__(self, tables: Mapping) -> None:
        self.tables = tables

    def table(self, name: str, partition: int) -> Any:
        return self.tables[name].parts[partition]

    def days(self, partition: int) -> Any:
        return self.table("days", partition)

    def stocks(self, partition: int) -> Any:
        return self.table("stocks", partition)

    def live_keys(self, partition: int) -> Any:
        return self.table("live_keys", partition)


def fold_deals(
    tables: Mapping,
    batch: Batch,
    partitions: int,
    grid: BucketGrid,
    retention_days: int | None = None,
) -> list[Output]:
    incoming = [
        IncomingDealEvent(e.deal_id, e.event_id, deal_event_of(e, offset), p)
        for p, offset, e in batch
    ]
    result = fold_deal_batch(tables["deals"], incoming)
    wins = [
        Output("customer-wins", m.partition, m.key.decode(), m.value)
        for m in encode_customer_wins(result.customer_changes, partitions)
    ]
    stream_us = max_stream_us(i.event.at_us for i in incoming) if retention_days else None
    return wins + kpi_outputs(result.deltas, partitions, stream_us)


def fold_activity(
    tables: Mapping,
    batch: Batch,
    partitions: int,
    grid: BucketGrid,
    retention_days: int | None = None,
) -> list[Output]:
    items = [replace(activity_of(e, offset), partition=p) for p, offset, e in batch]
    if retention_days is None:
        return kpi_outputs(fold_activity_batch(tables["seen"], items), partitions)
    corrections, times = Corrections(), []
    for partition, part in by_partition(items, lambda item: item.partition).items():
        seen = tables["seen"].parts[partition]
        clock = seen_horizon(seen, max(item.at_us for item in part), retention_days)
        corrections.absorb(fold_activity_batch(seen, part, clock.horizon))
        prune_seen_if_due(seen, clock)
        times.append(clock.stream_us)
    return kpi_outputs(corrections, partitions, max_stream_us(times))


def fold_customers(
    tables: Mapping,
    batch: Batch,
    partitions: int,
    grid: BucketGrid,
    retention_days: int | None = None,
) -> list[Output]:
    changes = []
    for p, offset, (key, value) in batch:
        changes += decode_customer_wins(key.encode(), value, offset, p, partitions)
    return kpi_outputs(fold_customer_batch(tables["customers"], changes), partitions)


def apply_kpis(
    tables: Mapping,
    batch: Batch,
    partitions: int,
    grid: BucketGrid,
    retention_days: int | None = None,
) -> list[Output]:
    if retention_days is not None:
        return apply_retained(tables, batch, partitions, grid, retention_days)
    corrections = [
        pair for p, _, (_, value) in batch for pair in decode_kpi_deltas(value, p, partitions)
    ]
    live = tables["live_keys"]
    for key, _ in corrections:
        live[key] = 1
    day_corrections = [(k, day_entries_of(e)) for k, e in corrections]
    apply_day_batch(tables["days"], day_corrections, grid, tables["stocks"])
    return []


def apply_retained(
    tables: Mapping, batch: Batch, partitions: int, grid: BucketGrid, retention_days: int
) -> list[Output]:
    """``Pipeline.on_kpi_batch`` with retention: per partition, the clock moved to what the
    messages carried, then the corrections applied, then the days beyond the horizon pruned."""
    state = PartState(tables)
    for p, records in by_partition(batch, lambda record: record[0]).items():
        decoded = [read_kpi_deltas(value, p, partitions) for _, _, (_, value) in records]
        clock = apply_horizon(state, p, max_stream_us(d.stream_us for d in decoded), retention_days)
        day_corrections = [(k, day_entries_of(e)) for d in decoded for k, e in d.scopes]
        live = state.live_keys(p)
        for key, entries in day_corrections:
            if leaves_a_trace(entries, clock.horizon):
                live[key] = 1
        apply_day_batch(state.days(p), day_corrections, grid, state.stocks(p), clock.horizon)
        pruned = prune_days_if_due(state, p)
        forget_idle_keys(state, p, {key for key, _ in pruned})
    return []


HANDLERS: dict[str, Callable[..., list[Output]]] = {
    "fold-deals": fold_deals,
    "fold-calls": fold_activity,
    "fold-costs": fold_activity,
    "fold-customers": fold_customers,
    "apply-kpis": apply_kpis,
}
"""Each agent's handler (``streams.app``: the agents and their input topics)."""
