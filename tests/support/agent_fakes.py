"""A ``streams.pipeline.Pipeline`` without Faust: fake producer, topics and plain dict state.

Why shared: the kpi-deltas and customer-wins tests both drive the pipeline's handlers and look at
what they sent straight to the producer (``streams.faust_ext.direct_send``) and what they
dead-lettered.
"""

from __future__ import annotations

import asyncio
from dataclasses import fields
from types import SimpleNamespace

from events.models import EventPolicy
from events.topics import TopicNames
from projections.day_values import apply_day_batch, day_entries_of
from projections.timebase import BucketGrid
from streams.corrections import Corrections
from streams.pipeline import AgentState, Pipeline, WorkerTopics
from streams.retention import DEFAULT_RETENTION_DAYS

GRID = BucketGrid("UTC")


class RangeDict(dict):
    """A dict with ``StoredTable.keys_between`` (a full scan: tests only)."""

    def keys_between(self, lower: str, upper: str) -> list[str]:
        return sorted(key for key in self if lower <= key < upper)


class DayDict(dict):
    """Day values with ``DayTable.prune_below`` (a full scan: tests only)."""

    def prune_below(self, horizon: int, lower: int | None = None) -> list[tuple[str, int]]:
        pruned = sorted(
            key for key in self if key[1] < horizon and (lower is None or key[1] >= lower)
        )
        for key in pruned:
            del self[key]
        return pruned

    def days_from(self, scope_key: str, first_day: int) -> list[tuple[int, object]]:
        return sorted((d, v) for (k, d), v in self.items() if k == scope_key and d >= first_day)


class DictState:
    """The agents' state as dicts per (table, partition), as ``StateEngine`` hands them out."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, int], dict] = {}
        self.applied: dict[int, int] = {}

    def table(self, name: str, partition: int) -> dict:
        kind = DayDict if name == "days" else RangeDict
        return self.tables.setdefault((name, partition), kind())

    def days(self, partition: int) -> dict:
        return self.table("days", partition)

    def stocks(self, partition: int) -> dict:
        return self.table("stocks", partition)

    def live_keys(self, partition: int) -> dict:
        return self.table("keys", partition)

    def note_applied(self, partition: int, next_offset: int) -> None:
        self.applied[partition] = max(next_offset, self.applied.get(partition, 0))

    def merged(self, name: str) -> dict:
        """One table's entries over every partition (keys live in one partition each)."""
        merged: dict = {}
        for (table, _), entries in sorted(self.tables.items()):
            if table == name:
                merged.update(entries)
        return merged


class FakeProducer:
    """The app's producer: what ``DirectSender`` hands it, per topic name."""

    def __init__(self) -> None:
        self.sent = {}

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.setdefault(topic, []).append(dict(key=key, value=value, partition=partition))
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class FakeTopic:
    """A Faust topic of one app: ``send`` records Faust-path sends (dead letters)."""

    def __init__(self, app, name: str, partitions: int = 8) -> None:
        self.app, self.name, self.partitions, self.sent = app, name, partitions, []

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, **message) -> None:
        self.sent.append(message)

    @property
    def direct(self) -> list[dict]:
        """What was sent past ``Topic.send``, straight to the producer."""
        return self.app.producer.sent.get(self.name, [])


def pipeline(
    partitions: int = 8,
    *,
    state: AgentState | None = None,
    policy: EventPolicy | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> Pipeline:
    """A pipeline whose topics have ``partitions`` partitions and whose state is dicts (unless
    ``state`` is given)."""
    producer = FakeProducer()

    async def maybe_start_producer():
        return producer

    app = SimpleNamespace(producer=producer, maybe_start_producer=maybe_start_producer)
    topics = WorkerTopics(
        **{field.name: FakeTopic(app, field.name, partitions) for field in fields(WorkerTopics)}
    )
    telemetry = SimpleNamespace(
        dead_lettered=lambda topic, reason: None,
        event_processed=lambda topic, kind, at: None,
    )
    return Pipeline(
        names=TopicNames(""),
        topics=topics,
        state=DictState() if state is None else state,
        grid=GRID,
        policy=EventPolicy() if policy is None else policy,
        telemetry=telemetry,
        retention_days=retention_days,
    )


def expected_days(*corrections: Corrections) -> tuple[dict, dict]:
    """(day values, live keys) that applying ``corrections`` in order leaves, all partitions
    together, as ``DictState.merged`` shows a pipeline's."""
    days: dict = {}
    keys: dict = {}
    for sent in corrections:
        pairs = [(key, day_entries_of(entries)) for key, entries in sent.items()]
        keys.update(dict.fromkeys((key for key, _ in pairs), 1))
        apply_day_batch(days, pairs, GRID, {})
    return days, keys


def record(topic: str, value: bytes | None, partition: int, offset: int, key: bytes = b"k"):
    """An event of a Faust stream as the agents read it: ``event.message`` is the record."""
    message = SimpleNamespace(topic=topic, partition=partition, offset=offset, key=key, value=value)
    return SimpleNamespace(message=message)
