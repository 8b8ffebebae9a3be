"""The five agents' batch handlers over the model's logs (``tests.support.replay_model``).

Why a module of their own: they are the part that must match ``streams.pipeline``, so they take
the pipeline's own steps (``streams.apply_steps``: the folds per partition, the clocks, pruning,
the apply) and read and write its encodings (customer-wins batched per partition through
``streams.customer_wins``, kpi-deltas through ``streams.kpi_deltas``, read back and applied by
either path of ``streams.kpi_apply``); only the Kafka plumbing around them is left out, while
the model around them moves records, states and crashes.
A handler takes the agent's tables (mappings, as the folds want them) and a batch of
``(partition, offset, record)``, updates the tables, and returns what the agent would send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from projections.normalize import deal_event_of, is_deal_event
from projections.timebase import BucketGrid
from streams.apply_steps import (
    by_partition,
    fold_activity_parts,
    fold_customer_parts,
    fold_deal_parts,
    prune_part,
)
from streams.corrections import Corrections
from streams.customer_wins import decode_customer_wins, encode_customer_wins
from streams.folds import IncomingDealEvent
from streams.kpi_apply import KpiApply, PythonApply
from streams.kpi_deltas import encode_kpi_deltas
from streams.pipeline import activity_of

Batch = list[tuple[int, int, Any]]
INTERPRETED = PythonApply()


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
    """``Pipeline._fold_deals``: the shared steps, then customer-wins before kpi-deltas."""
    incoming = [
        IncomingDealEvent(e.deal_id, e.event_id, deal_event_of(e, offset), p)
        for p, offset, e in batch
    ]
    result, stream_us = fold_deal_parts(_parts(tables, "deals"), incoming, retention_days)
    wins = [
        Output("customer-wins", m.partition, m.key.decode(), m.value)
        for m in encode_customer_wins(result.customer_changes, partitions)
    ]
    return wins + kpi_outputs(result.corrections, partitions, stream_us)


def fold_activity(
    tables: Mapping,
    batch: Batch,
    partitions: int,
    grid: BucketGrid,
    retention_days: int | None = None,
) -> list[Output]:
    """``Pipeline._fold_activity``: each record read as the agent reads it (``activity_of``)."""
    items = [activity_of(_message(p, offset, e), e, None) for p, offset, e in batch]
    corrections, stream_us = fold_activity_parts(_parts(tables, "seen"), items, retention_days)
    return kpi_outputs(corrections, partitions, stream_us)


def fold_customers(
    tables: Mapping,
    batch: Batch,
    partitions: int,
    grid: BucketGrid,
    retention_days: int | None = None,
) -> list[Output]:
    """``Pipeline.on_customer_batch`` (the model sends no malformed message to dead-letter)."""
    changes = []
    for p, offset, (key, value) in batch:
        changes += decode_customer_wins(key.encode(), value, offset, p, partitions)
    return kpi_outputs(fold_customer_parts(_parts(tables, "customers"), changes), partitions)


def apply_kpis(
    tables: Mapping,
    batch: Batch,
    partitions: int,
    grid: BucketGrid,
    retention_days: int | None = None,
    kpi_apply: KpiApply = INTERPRETED,
) -> list[Output]:
    """``Pipeline.on_kpi_batch`` in one chunk: every partition's messages read as the agent reads
    them (``kpi_apply.read``) and applied, then every partition of the batch pruned."""
    state = PartState(tables)
    records = by_partition(batch, lambda record: record[0])
    for p, part in records.items():
        read = [kpi_apply.read(value, p, partitions) for _, _, (_, value) in part]
        found = [pair for deltas in read for pair in deltas.scopes]
        kpi_apply.apply(state, p, found, [d.stream_us for d in read], grid, retention_days)
    for p in records:
        prune_part(state, p)
    return []


def _parts(tables: Mapping, name: str) -> Callable[[int], Any]:
    """A partition's table, as the shared steps ask for it (``Pipeline._table_of``)."""
    return lambda partition: tables[name].parts[partition]


def _message(partition: int, offset: int, event: Any) -> SimpleNamespace:
    """The record an event sits in on its topic, as far as ``activity_of`` reads it."""
    key = placement(event)[1].encode()
    return SimpleNamespace(partition=partition, offset=offset, key=key)


HANDLERS: dict[str, Callable[..., list[Output]]] = {
    "fold-deals": fold_deals,
    "fold-calls": fold_activity,
    "fold-costs": fold_activity,
    "fold-customers": fold_customers,
    "apply-kpis": apply_kpis,
}
"""Each agent's handler (``streams.app``: the agents and their input topics)."""
