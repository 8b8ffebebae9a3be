"""Where a worker's input partitions resume, and what a commit makes durable first.

With the agents' state in the local store (``streams.state.engine``), the group's committed
offsets are no longer where a partition resumes: its state is the one of the store's last
checkpoint, so its inputs must be read again from that checkpoint's offsets. Faust reaches both
moments through two consumer hooks (faust-streaming 0.15, ``transport/consumer.py``):

- ``Consumer._commit_offsets`` flushes the producer, then awaits ``_commit(offsets)``: the
  checkpoint goes between the two, so the outputs of input below the offsets are on Kafka before
  the offsets are durable in the store, and the store before the Kafka commit (design §4);
- ``Consumer.perform_seek`` (after every rebalance, and when the delivery fence repeats a seek)
  awaits ``seek_to_committed()`` and takes what it returns as each partition's read and committed
  offsets: returning the checkpoint's offsets keeps Faust's bookkeeping on the real position. A
  partition without a local checkpoint is first restored from the state topic's snapshot.

The Kafka commit stays (lag alerts, catch-up, readiness), but it is advisory: no seek goes there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer

from streams.ordered_delivery import SeekFencedDelivery
from streams.state.faults import AFTER_CHECKPOINT_WRITE, BEFORE_CHECKPOINT_WRITE


class CheckpointedOffsets:
    """Mixin over a Faust consumer whose app has a ``state_engine`` (None: Faust's behaviour)."""

    def _engine(self) -> Any:
        return getattr(self.app, "state_engine", None)  # type: ignore[attr-defined]

    async def _commit(self, offsets: Mapping[Any, int]) -> bool:
        engine = self._engine()
        if engine is not None:
            assigned = self.assignment()  # type: ignore[attr-defined]
            engine.faults.reached(BEFORE_CHECKPOINT_WRITE)
            engine.checkpoint(
                {tp: offset for tp, offset in offsets.items() if tp in assigned},
                self.app.consumer_generation_id,  # type: ignore[attr-defined]
            )
            engine.faults.reached(AFTER_CHECKPOINT_WRITE)
        return await super()._commit(offsets)  # type: ignore[misc, no-any-return]

    async def seek_to_committed(self) -> dict[Any, Any]:
        committed = dict(await super().seek_to_committed())  # type: ignore[misc]
        engine = self._engine()
        if engine is None:
            return committed
        changelogs = self.app.tables.changelog_topics  # type: ignore[attr-defined]
        streams = [tp for tp in self.assignment() if tp.topic not in changelogs]  # type: ignore[attr-defined]
        await engine.take_over(tp.partition for tp in streams)
        resumes = engine.resume_offsets(streams, committed)
        for tp, offset in resumes.items():
            if (committed.get(tp) or 0) != offset:
                await self._seek(tp, offset)  # type: ignore[attr-defined]
        committed.update(resumes)
        return committed


class SalespulseConsumer(CheckpointedOffsets, SeekFencedDelivery, AIOKafkaConsumer):
    """Faust's aiokafka consumer with the state engine's offsets and the delivery fence;
    built by ``SalespulseApp``."""
