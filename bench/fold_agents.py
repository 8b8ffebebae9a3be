"""The five agents of a worker run in process over in-memory topics: what ``bench.fold`` times.

Each handler does what ``streams.pipeline.Pipeline`` does with a batch, with the same functions
(``placed_event``, ``deal_event_of``, the batch folds of ``streams.folds``, the kpi-deltas and
customer-wins codecs, either apply path of ``streams.kpi_apply``), on dict tables instead of Faust
tables and ``MemoryTopic`` logs instead of Kafka. Left out: Faust, the producer and consumer,
telemetry and dead-letter sends (an invalid event is only counted). Every step is timed under the
name of its stage (``StageClock``).
"""

from __future__ import annotations

import cProfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

from events.models import EventPolicy, InvalidEvent
from events.topics import TopicNames
from projections.normalize import deal_event_of
from projections.timebase import BucketGrid
from streams.corrections import Corrections
from streams.customer_wins import decode_customer_wins, encode_customer_wins
from streams.folds import (
    IncomingDealEvent,
    fold_activity_batch,
    fold_customer_batch,
    fold_deal_batch,
)
from streams.kpi_apply import KpiApply
from streams.kpi_deltas import encode_kpi_deltas
from streams.pipeline import activity_of, placed_event
from streams.routing import partition_of

DECODE, FOLD_DEALS, WINS_CODEC = "decode+validate", "fold-deals", "customer-wins encode+decode"
FOLD_CUSTOMERS, FOLD_ACTIVITY = "fold-customers", "fold-activity"
DELTAS_CODEC, APPLY = "kpi-deltas encode+decode", "apply-kpis"
STAGES = (DECODE, FOLD_DEALS, WINS_CODEC, FOLD_CUSTOMERS, FOLD_ACTIVITY, DELTAS_CODEC, APPLY)
FOLD_STAGES = (FOLD_DEALS, FOLD_CUSTOMERS, FOLD_ACTIVITY, APPLY)
"""The stages design §12 budgets at ≤ 50 µs per input event together ("fold + apply")."""


@dataclass(frozen=True, slots=True)
class Record:
    """A Kafka record as an agent reads it (the fields ``Pipeline`` uses of ``event.message``)."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


class MemoryTopic:
    """A topic in memory: records get per-partition offsets; readers take them in append order,
    which keeps each partition's order (what the folds and the applied marks rely on)."""

    def __init__(self, name: str, partitions: int) -> None:
        self.name, self.partitions = name, partitions
        self.records: list[Record] = []
        self.read = 0
        self._next = [0] * partitions

    def append(self, key: bytes, value: bytes, partition: int | None = None) -> None:
        if partition is None:
            partition = partition_of(key.decode(), self.partitions)
        offset = self._next[partition]
        self._next[partition] = offset + 1
        self.records.append(Record(self.name, partition, offset, key, value))

    def backlog(self) -> int:
        return len(self.records) - self.read

    def take(self, size: int) -> list[Record]:
        """The next ``size`` records at most; internal topics forget what was read (memory)."""
        batch = self.records[self.read : self.read + size]
        self.read += len(batch)
        return batch

    def forget_read(self) -> None:
        del self.records[: self.read]
        self.read = 0


@dataclass
class StageClock:
    """Seconds and item counts per stage; a profiler, if any, runs inside the fold stages only."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    profiler: cProfile.Profile | None = None

    @contextmanager
    def stage(self, name: str, items: int) -> Iterator[None]:
        profiled = self.profiler is not None and name in FOLD_STAGES
        if profiled:
            self.profiler.enable()
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.counts[name] += items
            if profiled:
                self.profiler.disable()


class InProcessWorker:
    """One worker owning every partition: the agents' handlers, tables as plain dicts."""

    def __init__(
        self,
        names: TopicNames,
        partitions: int,
        grid: BucketGrid,
        policy: EventPolicy,
        clock: StageClock,
        batch_size: int,
        kpi_apply: KpiApply,
    ) -> None:
        self.names, self.grid, self.policy, self.clock = names, grid, policy, clock
        self.kpi_apply = kpi_apply
        self.partitions, self.apply_max_keys = partitions, batch_size
        self.tables = SimpleNamespace(
            deals={}, customers={}, seen={}, days={}, stocks={}, live_keys={}
        )
        self.customer_wins = MemoryTopic("customer-wins", partitions)
        self.kpi_deltas = MemoryTopic("kpi-deltas", partitions)
        self.invalid = 0

    def on_event_batch(self, kind: str, records: list[Record]) -> None:
        """``Pipeline.on_event_batch``: decode and validate, then fold deals or activity."""
        with self.clock.stage(DECODE, len(records)):
            valid = [(r, event) for r in records if (event := self._decoded(r)) is not None]
        if kind == "deal":
            self._fold_deals(valid)
            return
        with self.clock.stage(FOLD_ACTIVITY, len(valid)):
            activities = [activity_of(r, e, self.policy.rates) for r, e in valid]
            corrections = fold_activity_batch(self.tables.seen, activities)
        self.send_corrections(corrections)

    def _decoded(self, record: Record):
        try:
            return placed_event(record.topic, record.key, record.value, self.policy, self.names)
        except InvalidEvent:
            self.invalid += 1
            return None

    def _fold_deals(self, valid: list) -> None:
        with self.clock.stage(FOLD_DEALS, len(valid)):
            rates = self.policy.rates
            batch = [
                IncomingDealEvent(
                    e.deal_id, e.event_id, deal_event_of(e, r.offset, rates), r.partition
                )
                for r, e in valid
            ]
            result = fold_deal_batch(self.tables.deals, batch)
        with self.clock.stage(WINS_CODEC, 0):  # counted once, when decoded
            for m in encode_customer_wins(result.customer_changes, self.partitions):
                self.customer_wins.append(m.key, m.value, m.partition)
        self.send_corrections(result.corrections)

    def on_customer_batch(self, records: list[Record]) -> None:
        """``Pipeline.on_customer_batch`` (the workload has no malformed change to refuse)."""
        with self.clock.stage(WINS_CODEC, len(records)):
            changes = []
            for r in records:
                changes += decode_customer_wins(
                    r.key, r.value, r.offset, r.partition, self.partitions
                )
        with self.clock.stage(FOLD_CUSTOMERS, len(changes)):
            corrections = fold_customer_batch(self.tables.customers, changes)
        self.send_corrections(corrections)

    def on_kpi_batch(self, records: list[Record]) -> None:
        """``Pipeline.on_kpi_batch``: read message by message (``KpiApply.read``), apply
        ``apply_max_keys`` scope keys at a time (``KpiApply.apply``)."""
        found: dict[int, list] = {}
        pending = 0
        for r in records:
            with self.clock.stage(DELTAS_CODEC, 1):
                read = self.kpi_apply.read(r.value, r.partition, self.partitions)
            found.setdefault(r.partition, []).extend(read.scopes)
            pending += len(read.scopes)
            if pending >= self.apply_max_keys:
                self._apply(found)
                found, pending = {}, 0
        self._apply(found)

    def _apply(self, found: dict[int, list]) -> None:
        items = sum(len(entries) for scopes in found.values() for _, entries in scopes)
        with self.clock.stage(APPLY, items):
            for partition, scopes in found.items():
                self.kpi_apply.apply(self, partition, scopes, [None], self.grid, None)

    def days(self, partition: int) -> dict:
        """The apply tables as ``streams.pipeline.AgentState`` hands them out: one dict for
        every partition (scope keys never meet across partitions)."""
        return self.tables.days

    def stocks(self, partition: int) -> dict:
        return self.tables.stocks

    def live_keys(self, partition: int) -> dict:
        return self.tables.live_keys

    def send_corrections(self, corrections: Corrections) -> None:
        """``Pipeline.send_corrections``: one kpi-deltas message per destination partition."""
        with self.clock.stage(DELTAS_CODEC, 0):
            for message in encode_kpi_deltas(corrections.items(), self.partitions):
                self.kpi_deltas.append(message.key, message.value, message.partition)
