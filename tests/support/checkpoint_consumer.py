"""Faust's consumer hooks around ``CheckpointedOffsets``, without Kafka.

``FakeFaustConsumer`` does at ``_commit``, ``seek_to_committed`` and ``_seek`` what Faust's
aiokafka consumer does there: commit to Kafka, seek to the group's offsets.
"""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from streams.faust_ext.checkpointed_offsets import CheckpointedOffsets
from streams.state.engine import StateEngine

KPI = "app.kpi-deltas"
DEALS0, DEALS1, KPI0, KPI1 = TP("deals", 0), TP("deals", 1), TP(KPI, 0), TP(KPI, 1)


class FakeFaustConsumer:
    """What Faust's consumer does at those hooks: commit to Kafka, seek to the group's offsets."""

    def __init__(self, engine: StateEngine, assigned: set, group: dict) -> None:
        tables = SimpleNamespace(changelog_topics=set())
        self.app = SimpleNamespace(state_engine=engine, tables=tables, consumer_generation_id=3)
        self.assigned, self.group, self.journal, self.seeks = assigned, dict(group), [], {}

    def assignment(self) -> set:
        return set(self.assigned)

    async def _commit(self, offsets) -> bool:
        stored_then = self.app.state_engine.store.offsets(0)
        self.journal.append(("kafka commit", dict(offsets), stored_then))
        self.group.update(offsets)
        return True

    async def seek_to_committed(self) -> dict:
        self.seeks = {tp: self.group.get(tp) or 0 for tp in self.assigned}
        return {tp: self.group.get(tp) for tp in self.assigned}

    async def _seek(self, tp, offset: int) -> None:
        self.seeks[tp] = offset


class Consumer(CheckpointedOffsets, FakeFaustConsumer):
    pass
