"""When a worker writes its partitions' snapshots, and how it takes one over (design §6).

After a checkpoint (``StateEngine.checkpoint``), each committed partition whose last snapshot is
older than the interval and that changed since gets its next snapshot, built at once from the
checkpoint (synchronously, so no agent can change the partition in between) and sent in the
background, one in flight per partition. When the send is acknowledged its ``pending`` markers
are settled and the replaced chunks tombstoned; when it fails the chain goes on from the last
acknowledged manifest.

A partition assigned to a worker without a local checkpoint of it (a fresh host, an empty data
dir, ``memory://``) is restored from the topic before its inputs are sought, so it replays only
the logs after the snapshot's offsets instead of from offset 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from streams.state.faults import IN_SNAPSHOT, NO_FAULTS, FaultSwitch
from streams.state.layout import PENDING
from streams.state.snapshot import (
    ChainState,
    RebasePolicy,
    Restored,
    Snapshot,
    StaleGeneration,
    StoreView,
    restore_partition,
    settle,
    write_snapshot,
)
from streams.state.snapshot_records import Record
from streams.state.store import StateStore

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


class StateTopic(Protocol):
    """What the shipper needs of the state topic (``KafkaStateTopic``, or a fake in tests)."""

    async def send_all(self, partition: int, records: Sequence[Record]) -> None: ...

    def read_partitions(self, partitions: Sequence[int]) -> AsyncIterator[tuple[int, list[Record]]]:
        """Each partition's records, one partition after the other, in the order asked."""
        ...


@dataclass
class SnapshotCounters:
    written: int = 0
    failed: int = 0
    bytes: int = 0
    restored: int = 0
    restore_failures: int = 0
    restore_seconds: float = 0.0


class SnapshotShipper:
    """The snapshot chains of one worker's partitions on its state topic."""

    def __init__(
        self,
        topic: StateTopic,
        interval_s: float,
        policy: RebasePolicy | None = None,
        faults: FaultSwitch = NO_FAULTS,
        clock: Callable[[], float] = time.monotonic,
        records_between: int | None = None,
    ) -> None:
        """``records_between``: a partition's snapshot is also due, inside the interval, once
        its inputs moved that many records past the offsets of its last snapshot (None: by
        time only)."""
        self.topic, self.interval_s = topic, interval_s
        self.records_between = records_between
        self.policy = policy or RebasePolicy()
        self.faults, self._clock = faults, clock
        self._chains: dict[int, ChainState] = {}
        self._last: dict[int, float] = {}
        self._last_offsets: dict[int, dict[str, int]] = {}
        """The input offsets of each partition's last snapshot written by this worker."""
        self._in_flight: dict[int, asyncio.Task] = {}
        self._store: StateStore | None = None
        self._generation = 0
        self._owned: set[int] = set()
        self.counters = SnapshotCounters()

    # -- writing ---------------------------------------------------------------------------

    def after_checkpoint(self, store: StateStore, partitions: Iterable[int], gen: int) -> None:
        """Start the snapshots that are due; call synchronously right after the checkpoint."""
        self._store, self._generation = store, gen
        now = self._clock()
        for partition in partitions:
            if self._due(store, partition, now):
                self._start(store, partition, gen, now)

    def _due(self, store: StateStore, partition: int, now: float) -> bool:
        task = self._in_flight.get(partition)
        if task is not None and not task.done():
            return False
        recent = now - self._last.get(partition, float("-inf")) < self.interval_s
        if recent and not self._far_ahead(store, partition):
            return False
        return next(iter(store.scan(PENDING, partition)), None) is not None

    def _far_ahead(self, store: StateStore, partition: int) -> bool:
        """Whether the partition folded ``records_between`` records since its last snapshot:
        what a crash now would make its next owner replay. The interval alone let a worker
        catching up (a backfill, a restart under load) fold a minute of input after the one
        snapshot it took at its first checkpoint."""
        last = self._last_offsets.get(partition)
        if self.records_between is None or last is None:
            return False
        now = store.offsets(partition)
        moved = sum(max(0, offset - last.get(topic, 0)) for topic, offset in now.items())
        return moved >= self.records_between

    def _start(self, store: StateStore, partition: int, gen: int, now: float) -> None:
        chain = self._chains.get(partition, ChainState())
        try:
            snapshot = write_snapshot(StoreView(store, partition), gen, chain, self.policy)
        except StaleGeneration:
            # A zombie, or a group whose generations restarted below the topic's chain (the group
            # expired): counted, since the chain on the topic then ages.
            self.counters.failed += 1
            log.warning("snapshot of partition %d skipped: generation %d is stale", partition, gen)
            return
        self._last[partition] = now
        self._last_offsets[partition] = store.offsets(partition)
        self._in_flight[partition] = asyncio.ensure_future(self._ship(store, partition, snapshot))

    async def _ship(self, store: StateStore, partition: int, snapshot: Snapshot) -> None:
        try:
            await self._send(partition, snapshot.records)
        except Exception as exc:  # noqa: BLE001 - any failure: the chain goes on from the last ack
            self._chains[partition] = snapshot.abandoned
            self.counters.failed += 1
            log.warning("snapshot of partition %d not acknowledged: %s", partition, exc)
            return
        settle(store, partition, snapshot.checkpoint_seq)
        self._chains[partition] = snapshot.acknowledged
        self.counters.written += 1
        self.counters.bytes += sum(len(value or b"") for _, value in snapshot.records)
        try:
            await self.topic.send_all(partition, snapshot.cleanup)
        except Exception as exc:  # noqa: BLE001 - stale chunks only cost space until a rebase
            log.info("snapshot cleanup of partition %d not sent: %s", partition, exc)

    async def _send(self, partition: int, records: Sequence[Record]) -> None:
        """Chunks, then the manifest (the last record): a crash between them leaves the chain
        incomplete, and a restore takes the previous complete one (chaos 7b)."""
        *chunks, manifest = records
        await self.topic.send_all(partition, chunks)
        self.faults.reached(IN_SNAPSHOT)
        await self.topic.send_all(partition, [manifest])

    async def sent(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Wait (at most ``timeout_s``) until the snapshots in flight are acknowledged or failed."""
        tasks = [task for task in self._in_flight.values() if not task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)

    def _snapshot_the_rest(self) -> None:
        store = self._store
        if store is None:
            return
        for partition in sorted(self._owned):
            changed_since_checkpoint = store.partition(partition).dirty
            if not changed_since_checkpoint and self._due(store, partition, float("inf")):
                self._start(store, partition, self._generation, float("inf"))

    async def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Graceful stop, after the last checkpoint: snapshot every partition that changed since
        its last snapshot, whatever the interval (a fresh host then replays nothing), and let
        the sends finish (at most ``timeout_s``; one cut short is an incomplete chain, and the
        previous one stays), then close the topic."""
        self._snapshot_the_rest()
        await self.sent(timeout_s)
        close = getattr(self.topic, "close", None)
        if close is not None:
            await close()

    # -- taking over -----------------------------------------------------------------------

    def assigned(self, partitions: Iterable[int]) -> None:
        """The partitions this worker owns since the last rebalance. A partition it lost is
        someone else's: no final snapshot of it at stop (its keys would collide with the new
        owner's chain), and if it comes back its chain starts again with a base."""
        self._owned = set(partitions)
        for per_partition in (self._chains, self._last, self._last_offsets):
            for partition in set(per_partition) - self._owned:
                del per_partition[partition]

    async def restore_each(
        self, store: StateStore, partitions: Sequence[int]
    ) -> AsyncIterator[tuple[int, Restored | None | Exception]]:
        """Replace each partition's local state by its best complete chain on the topic, one
        partition after the other as they are read, yielding what each got: ``Restored`` (the
        chain continues from it), ``None`` (no chain; the store is untouched), or the error
        that refused its records (the store may hold part of them). An error reading the topic
        ends the iteration: the partitions not yielded yet got nothing. Close it
        (``contextlib.aclosing``) when leaving early."""
        started = time.perf_counter()
        async with aclosing(self.topic.read_partitions(partitions)) as chains:
            async for partition, records in chains:
                outcome = self._restore_records(store, partition, records)
                del records  # one partition's records in memory at a time
                if isinstance(outcome, Restored):
                    self.counters.restored += 1
                    self.counters.restore_seconds += time.perf_counter() - started
                yield partition, outcome
                started = time.perf_counter()

    def _restore_records(
        self, store: StateStore, partition: int, records: list[Record]
    ) -> Restored | None | Exception:
        try:
            restored = restore_partition(records, partition, store)
        except Exception as exc:  # noqa: BLE001 - the caller decides: the partition replays
            return exc
        if restored is not None:
            self._chains[partition] = restored.chain
        return restored
