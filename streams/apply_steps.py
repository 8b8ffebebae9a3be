"""Each agent's steps over one batch, partition by partition, on plain state: no Faust, no Kafka.

Why a module of their own: ``streams.pipeline`` (messages in, producer out) and the replay model
of the property tests (``tests.support.replay_agents``: fake logs, crashes and restores) must take
the very same steps, in the same order, so that the model checks the agents and not a copy of them.
Both call these; they take a partition's tables as mappings (``streams.pipeline.AgentState``) and
return what the agent sends on, leaving the encoding and the sending to the caller.

``retention_days`` None is retention off: no clock is kept, nothing is dropped and no stream time
is carried (the replay model before retention; a worker always has a setting).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from projections.day_values import DayCorrection, apply_day_batch
from projections.timebase import BucketGrid
from streams.corrections import Corrections
from streams.deal_memory import track_closed_deals
from streams.folds import (
    DealBatchResult,
    IncomingCall,
    IncomingCost,
    IncomingDealEvent,
    fold_activity_batch,
    fold_customer_batch,
    fold_deal_batch,
)
from streams.retention import (
    StreamClock,
    apply_horizon,
    forget_idle_keys,
    leaves_a_trace,
    max_stream_us,
    prune_days_if_due,
    prune_seen_if_due,
    seen_horizon,
)

Item = TypeVar("Item")
TableOf = Callable[[int], MutableMapping[str, Any]]
"""A partition's table of one agent (``AgentState.table`` with the name bound)."""


@dataclass(frozen=True)
class DealMemory:
    """How fold-deals forgets closed deals: each partition's ``deal_ix`` table, and the days a
    closed deal is kept after its latest event (setting ``closed_deal_memory_days``)."""

    index_of: TableOf
    days: int


def by_partition(items: Iterable[Item], partition: Callable[[Item], int]) -> dict[int, list[Item]]:
    """Items grouped by partition, each group in the items' order."""
    groups: dict[int, list[Item]] = {}
    for item in items:
        groups.setdefault(partition(item), []).append(item)
    return groups


def _partition(item: Any) -> int:
    return item.partition  # type: ignore[no-any-return]


def fold_deal_parts(
    deals_of: TableOf,
    batch: Sequence[IncomingDealEvent],
    retention_days: int | None,
    memory: DealMemory | None = None,
) -> tuple[DealBatchResult, int | None]:
    """Fold-deals: each partition's events over its ``deals`` table, then (``memory`` given) its
    closed deals listed and the old ones forgotten (``streams.deal_memory``); with the stream
    time its kpi-deltas carry (the batch's latest event)."""
    result = DealBatchResult()
    for partition, items in by_partition(batch, _partition).items():
        deals = deals_of(partition)
        part = fold_deal_batch(deals, items)
        if memory is not None:
            latest = max(item.event.at_us for item in items)
            index = memory.index_of(partition)
            part.forgotten = track_closed_deals(deals, index, part.closed, latest, memory.days)
        result.absorb(part)
    if retention_days is None:
        return result, None
    return result, max_stream_us(item.event.at_us for item in batch)


def fold_activity_parts(
    seen_of: TableOf, activities: Sequence[IncomingCall | IncomingCost], retention_days: int | None
) -> tuple[Corrections, int | None]:
    """Fold-calls and fold-costs: per partition, move its clock to the batch's latest event, fold
    with that horizon, then forget the ids beyond it; with the latest clock of the batch, which
    the kpi-deltas carry."""
    corrections = Corrections()
    times = []
    for partition, items in by_partition(activities, _partition).items():
        seen = seen_of(partition)
        latest = max(item.at_us for item in items)
        clock = StreamClock()
        if retention_days is not None:
            clock = seen_horizon(seen, latest, retention_days)
        corrections.absorb(fold_activity_batch(seen, items, clock.horizon))
        prune_seen_if_due(seen, clock)
        times.append(clock.stream_us)
    return corrections, max_stream_us(times)


def fold_customer_parts(customers_of: TableOf, changes: Sequence[Any]) -> Corrections:
    """Fold-customers: each partition's win changes over its ``customers`` table."""
    corrections = Corrections()
    for partition, items in by_partition(changes, _partition).items():
        corrections.absorb(fold_customer_batch(customers_of(partition), items))
    return corrections


def apply_part(
    state: Any,
    partition: int,
    found: list[tuple[str, list[DayCorrection]]],
    stream_times: Iterable[int | None],
    grid: BucketGrid,
    retention_days: int | None,
) -> None:
    """Apply-kpis: a partition's corrections (``read_day_entries``) applied after moving its
    clock to the latest stream time they carried, so parts for days beyond the horizon are
    dropped, not stored (design §8); a scope key is listed live when they leave a trace."""
    clock = apply_clock(state, partition, stream_times, retention_days)
    live = state.live_keys(partition)
    for key, entries in found:
        if key not in live and leaves_a_trace(entries, clock.horizon):
            live[key] = 1
    apply_day_batch(state.days(partition), found, grid, state.stocks(partition), clock.horizon)


def apply_clock(
    state: Any, partition: int, stream_times: Iterable[int | None], retention_days: int | None
) -> StreamClock:
    """Apply-kpis, before a partition's corrections: its clock moved to the latest stream time
    they carried (retention off: no clock, no horizon)."""
    if retention_days is None:
        return StreamClock()
    return apply_horizon(state, partition, max_stream_us(stream_times), retention_days)


def prune_part(state: Any, partition: int) -> set[str]:
    """Apply-kpis, after a batch: delete the partition's day values beyond the horizon once it
    moved (at most once a stream day); keys left with nothing to report stop being listed
    (``forget_idle_keys``). Returns the scope keys whose day values went."""
    pruned = prune_days_if_due(state, partition)
    if not pruned:
        return set()
    keys = {key for key, _ in pruned}
    forget_idle_keys(state, partition, keys)
    return keys
