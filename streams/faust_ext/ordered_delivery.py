"""Deliver each input partition in offset order across Faust's seek to committed offsets.

The exactly-once-effect design (docs/GUARANTEES.md) needs the corrections of one source partition
to reach the agents in offset order: a day value ignores an offset at or below the highest it has
applied. After every rebalance Faust (faust-streaming 0.15) resumes the stream partitions *before*
``Consumer.perform_seek`` moves them back to their committed offsets, so its fetch loop can be
in the middle of delivering a batch fetched from the old position when the seek lands. Two things
then go wrong (seen in chaos scenario 5, two workers, one killed, under load):

- the rest of the old batch is still delivered after the seek, with offsets far above the committed
  one: Faust records the jump as a "gap" (which it treats as processed) and drops the re-fetched
  records below it as already read, so they are committed without ever being folded;
- records handed to an agent's queue just before the seek are cleared when the flow resumes, and
  when no gap covers them the partition never commits again (a stall).

``SeekFencedDelivery`` fences the seek (steps 3-5 of the rebalance protocol, ``streams.faust_ext``):
once a seek starts, the fetch loop stops delivering the batch it holds (those records are fetched
again from the committed offset), the seek waits until the record being handed over is done, and a
batch whose fetch overlapped a seek is dropped and the seek repeated (its records could be from
either side of it). Every record then reaches the agents in offset order from the committed
offset; the replays this causes are absorbed by the applied offsets kept in each day value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

log = logging.getLogger(__name__)

WAIT_FOR_DELIVERY_S = 10.0
"""How long a seek waits for the record being handed to an agent (an agent queue may be full)."""

IDLE_POLL_S = 0.01
"""How often the fetch loop looks again while a seek is under way."""


class DeliveryFence:
    """Who is delivering a fetched batch and who is seeking, for one consumer.

    ``epoch`` counts completed seeks: a batch fetched under an older epoch may hold records from
    before the last seek.
    """

    def __init__(self) -> None:
        self.seeking = 0
        self.delivering = 0
        self.epoch = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin_delivery(self) -> None:
        self.delivering += 1
        self._idle.clear()

    def end_delivery(self) -> None:
        self.delivering -= 1
        if not self.delivering:
            self._idle.set()

    async def wait_idle(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


class SeekFencedDelivery:
    """Mixin over a Faust consumer's ``getmany`` and ``perform_seek`` (see the module docstring)."""

    @property
    def fence(self) -> DeliveryFence:
        fence = self.__dict__.get("_delivery_fence")
        if fence is None:
            fence = self.__dict__["_delivery_fence"] = DeliveryFence()
        return fence

    async def perform_seek(self) -> None:
        fence = self.fence
        fence.seeking += 1
        try:
            if not await fence.wait_idle(WAIT_FOR_DELIVERY_S):
                log.warning(
                    "seeking to committed offsets while a fetched batch is still being delivered "
                    "(after %.0fs)",
                    WAIT_FOR_DELIVERY_S,
                )
            await super().perform_seek()  # type: ignore[misc]
        finally:
            fence.epoch += 1
            fence.seeking -= 1

    async def seek_to_committed(self) -> dict[Any, Any]:
        """Faust's seek, plus a rewind of the stream partitions that have no committed offset.

        aiokafka seeks only partitions with a committed offset above 0, so without this a
        partition nobody has committed yet would not go back at all and what the fence dropped
        from it would never be fetched again (seen: the first cost event of a partition lost).
        Its start is where the group would begin reading it (``auto_offset_reset=earliest``).
        """
        committed = await super().seek_to_committed()  # type: ignore[misc]
        changelogs = self._changelog_topics()
        for tp, offset in committed.items():
            if not offset and tp.topic not in changelogs:
                await self._seek(tp, 0)  # type: ignore[attr-defined]
        return committed

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        fence = self.fence
        if fence.seeking:
            await asyncio.sleep(IDLE_POLL_S)
            return
        epoch = fence.epoch
        changelogs = self._changelog_topics()
        delivered = skipped = 0
        fetched_before_seek = False
        try:
            async with aclosing(super().getmany(timeout)) as records:  # type: ignore[misc]
                async for tp, message in records:
                    stream = tp.topic not in changelogs
                    if stream and (fence.seeking or fence.epoch != epoch):
                        skipped += 1  # fetched again from the committed offset
                        continue
                    fetched_before_seek = fetched_before_seek or stream
                    if not delivered:
                        fence.begin_delivery()
                    delivered += 1
                    yield tp, message
        finally:
            if delivered:
                fence.end_delivery()
        if skipped:
            log.info("a seek to committed offsets cut %d fetched records short", skipped)
            if not fetched_before_seek:
                # the fetch overlapped the seek: its records may come from either side of it
                await self.perform_seek()

    def _changelog_topics(self) -> set[str]:
        return self.app.tables.changelog_topics  # type: ignore[attr-defined, no-any-return]
