"""Where a worker's input partitions resume, and what a commit makes durable first.

The group's committed offsets are not where a partition resumes: its state is the one of the
store's last checkpoint (``streams.state.engine``), so its inputs are read again from that
checkpoint's offsets. This mixin takes step 3 of the commit protocol and step 4 of the rebalance
protocol (``streams.faust_ext``): the checkpoint between Faust's producer flush and its Kafka
commit, and the seek to the checkpoint's offsets, after restoring from a snapshot a partition
the store has no checkpoint of. The Kafka commit stays (lag alerts, catch-up, readiness), but it
is advisory: no seek goes there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from streams.state.faults import AFTER_CHECKPOINT_WRITE, BEFORE_CHECKPOINT_WRITE


class CheckpointedState(Protocol):
    """The consumer's side of the worker's store (``streams.state.engine.StateEngine``)."""

    faults: Any

    def checkpoint(self, offsets: Mapping[Any, int], generation: int = 0) -> None: ...

    async def take_over(self, partitions: Iterable[int]) -> None: ...

    def resume_offsets(
        self, tps: Iterable[Any], group_committed: Mapping[Any, int | None]
    ) -> dict[Any, int]: ...

    async def stop(self) -> None: ...


class CheckpointedOffsets:
    """Mixin over a Faust consumer whose app has a ``state_engine`` (None: Faust's behaviour)."""

    def _engine(self) -> CheckpointedState | None:
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
