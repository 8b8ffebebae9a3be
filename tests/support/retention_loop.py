"""Native events through one ``Pipeline`` (fake producer), its outputs fed back to its own agents.

Why: retention acts in three agents at once (stream time rides from the folds to the apply agent
on kpi-deltas, seen ids and day values are pruned by it), so its tests drive the real handlers
end to end, batch by batch, over dict state or a real ``StateEngine``, and read the KPIs back the
way ``Ownership`` does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace

from events.topics import route
from projections import day_readout
from projections.day_values import HOURS_PER_DAY
from projections.kpis import OpenStock
from projections.readout import BucketStore
from projections.state_types import DayValue
from streams.pipeline import Pipeline
from streams.routing import partition_of
from tests.support.agent_fakes import pipeline as fake_pipeline
from tests.support.factories import POLICY, validated

KINDS = {"deal-events": "deal", "call-events": "call", "cost-events": "cost"}


class PipelineLoop:
    """A pipeline whose kpi-deltas and customer-wins are delivered back to it, in order."""

    def __init__(
        self, partitions: int = 4, retention_days: int = 100, state: object | None = None
    ) -> None:
        self.pipeline: Pipeline = fake_pipeline(
            partitions, state=state, policy=POLICY, retention_days=retention_days
        )
        self.partitions = partitions
        self.offsets: dict[tuple[str, int], int] = {}
        self.delivered: dict[str, int] = {}

    @property
    def state(self):
        return self.pipeline.state

    def _record(self, topic: str, key: str, value: bytes, partition: int) -> SimpleNamespace:
        offset = self.offsets.get((topic, partition), 0)
        self.offsets[topic, partition] = offset + 1
        message = SimpleNamespace(
            topic=topic, partition=partition, offset=offset, key=key.encode(), value=value
        )
        return SimpleNamespace(message=message)

    async def feed(self, events: Sequence[dict], batch_size: int = 50) -> PipelineLoop:
        """Native events in arrival order, in batches; every output is applied before the next."""
        for start in range(0, len(events), batch_size):
            chunk = events[start : start + batch_size]
            by_kind: dict[str, list] = {}
            for obj, event in zip(chunk, validated(chunk), strict=True):
                topic, key = route(event, self.pipeline.names)
                record = self._record(
                    topic, key, json.dumps(obj).encode(), partition_of(key, self.partitions)
                )
                by_kind.setdefault(KINDS[topic.rsplit(".", 1)[-1]], []).append(record)
            for kind, records in by_kind.items():
                await self.pipeline.on_event_batch(kind, records)
            await self.drain()
        return self

    async def drain(self) -> None:
        topics = self.pipeline.topics
        while True:
            wins = self._take(topics.customer_wins)
            if wins:
                await self.pipeline.on_customer_batch(wins)
            deltas = self._take(topics.kpi_deltas)
            if deltas:
                await self.pipeline.on_kpi_batch(deltas)
            if not wins and not deltas:
                return

    def _take(self, topic) -> list:
        sent = topic.direct
        start = self.delivered.get(topic.name, 0)
        self.delivered[topic.name] = len(sent)
        return [
            self._record(topic.name, m["key"].decode(), m["value"], m["partition"])
            for m in sent[start:]
        ]

    # -- reading back, as ``streams.ownership.Ownership`` does -------------------------------

    def _partition(self, key: str) -> int:
        return partition_of(key, self.partitions)

    def read_day(self, key: str, day: int) -> DayValue | None:
        return self.state.days(self._partition(key)).get((key, day))

    def open_stock(self, key: str, end_hour: int) -> OpenStock:
        partition = self._partition(key)
        later = self.state.days(partition).days_from(key, end_hour // HOURS_PER_DAY)
        return day_readout.open_stock(self.state.stocks(partition).get(key), later, end_hour)

    def report(self, key: str, now: datetime) -> dict | None:
        return day_readout.report(self.read_day, key, now, self.pipeline.grid, self.open_stock)

    def live_keys(self) -> set[str]:
        return {k for p in range(self.partitions) for k in self.state.live_keys(p)}

    def differences(self, expected: BucketStore, as_ofs: Sequence[datetime]) -> list[str]:
        """Every key's KPIs of the six windows against the recomputation, at each as_of."""
        problems = []
        for now in as_ofs:
            for key in sorted(self.live_keys() | expected.keys()):
                got, want = self.report(key, now), expected.report(key, now)
                if got != want:
                    problems.append(f"{key} at {now.isoformat()}: {got} != {want}")
        return problems
