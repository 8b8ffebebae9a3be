"""The agents' state of one worker: tables per partition, checkpoints, where each input resumes.

Design state-engine-v2 §4-§5. Durability is paid once per Faust commit: after the producer is
flushed (every output of input below the committed offsets is on Kafka), ``checkpoint`` writes
each committed partition's changed values with the next offsets of its inputs as one atomic batch,
and only then is the Kafka commit made. After a restart or a rebalance a partition resumes from
the offsets of its last checkpoint (``resume_offsets``), not from the group's committed offsets:
its state is that checkpoint (possibly ahead of it after a spill), and every input after it is
folded again. The folds tolerate state ahead of their input (design §7, I3), and the apply agent
ignores a correction it already applied (I4), so a replay changes nothing it already counted.

A partition this worker has no checkpoint of (a fresh host, an empty data dir, ``memory://``) is
first restored from its latest complete snapshot on the state topic (``take_over``, design §6),
and resumes from that snapshot's offsets; without a snapshot it resumes from the start of every
input, which rebuilds its state from the logs (internal topics are kept for that).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

from streams.state.faults import kill_switch
from streams.state.options import StoreLimits
from streams.state.snapshot import Restored
from streams.state.snapshot_shipper import SnapshotShipper
from streams.state.store import StateStore, open_store
from streams.state.tables import DayTable, StockTable, StoredTable

log = logging.getLogger(__name__)

RESTORE_TIMEOUT_S = 120.0
"""Longest a take-over reads and restores one partition's snapshot before that partition and
the ones not read yet replay the logs instead."""

LIVE_KEYS = "keys"
"""Column family of the scope keys that ever had a bucket (the apply agent's live keys)."""


class LiveKeys(MutableMapping[str, int]):
    """The scope keys of one partition, kept in memory and in the ``keys`` column family: the
    scrape walks them, the apply agent adds to them."""

    def __init__(self, store: StateStore, partition: int) -> None:
        self._store, self._partition = store, partition
        self._keys = {key.decode() for key, _ in store.scan(LIVE_KEYS, partition)}

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __getitem__(self, key: str) -> int:
        if key not in self._keys:
            raise KeyError(key)
        return 1

    def __setitem__(self, key: str, value: int) -> None:
        if key not in self._keys:
            self._keys.add(key)
            self._store.put(LIVE_KEYS, self._partition, key.encode(), b"1")

    def __delitem__(self, key: str) -> None:
        self._keys.remove(key)
        self._store.delete(LIVE_KEYS, self._partition, key.encode())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def __len__(self) -> int:
        return len(self._keys)


class StateEngine:
    """Every partition's state of one worker; the store opens at first use, not at creation
    (``create_app`` has no I/O), and ``kpi_topic`` names the apply agent's input, whose replay
    decides when a worker's KPIs are current again (``replayed``)."""

    def __init__(
        self,
        store_url: str,
        data_dir: Path,
        kpi_topic: str,
        limits: StoreLimits | None = None,
        fault_kill_at: str = "",
    ) -> None:
        self.store_url, self.data_dir, self.kpi_topic = store_url, Path(data_dir), kpi_topic
        self.limits = limits
        # Test-only crash points (setting fault_kill_at; off by default): streams/state/faults.py.
        self.faults = kill_switch(fault_kill_at)
        self.snapshots: SnapshotShipper | None = None
        self._store: StateStore | None = None
        self._views: dict[tuple[str, int], Any] = {}
        self._applied: dict[int, int] = {}
        self._replay_to: dict[int, int] = {}
        self.checkpoints = 0
        self.checkpoint_seconds = 0.0

    @property
    def store(self) -> StateStore:
        if self._store is None:
            self._store = open_store(self.store_url, self.data_dir, self.limits, self.faults)
        return self._store

    async def stop(self) -> None:
        """Graceful stop of the worker: the snapshots in flight finish (the store stays open:
        every checkpoint is already durable, and views may still be read)."""
        if self.snapshots is not None:
            await self.snapshots.stop()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self._views.clear()

    # -- what the agents fold into ---------------------------------------------------------

    def _view(self, kind: str, partition: int, make: Callable[[], Any]) -> Any:
        """One view object per (kind, partition), made at first use."""
        found = self._views.get((kind, partition))
        if found is None:
            found = self._views[kind, partition] = make()
        return found

    def table(self, name: str, partition: int) -> StoredTable:
        """``deals``, ``customers`` or ``seen`` of ``partition`` (``streams.folds`` shapes)."""
        return self._view(name, partition, lambda: StoredTable(self.store, name, partition))

    def days(self, partition: int) -> DayTable:
        """The apply agent's day values of ``partition``."""
        return self._view("days", partition, lambda: DayTable(self.store, partition))

    def stocks(self, partition: int) -> StockTable:
        """The open-deal stock totals of ``partition``'s scope keys."""
        return self._view("carry", partition, lambda: StockTable(self.store, partition))

    def live_keys(self, partition: int) -> LiveKeys:
        return self._view(LIVE_KEYS, partition, lambda: LiveKeys(self.store, partition))

    def note_applied(self, partition: int, next_offset: int) -> None:
        """The apply agent handled ``kpi_topic[partition]`` up to ``next_offset``."""
        if next_offset > self._applied.get(partition, -1):
            self._applied[partition] = next_offset

    # -- durability and resumption --------------------------------------------------------

    def checkpoint(self, offsets: Mapping[Any, int], generation: int = 0) -> None:
        """One atomic batch per partition in ``offsets`` (topic partition -> next offset): its
        changed values and the next offset of each of its inputs. Call it after the producer
        is flushed and before the Kafka commit. The snapshots that are due start from it
        (``generation``: the consumer group's, which fences a zombie's snapshots)."""
        started = time.perf_counter()
        by_partition: dict[int, dict[str, int]] = {}
        for tp, offset in offsets.items():
            by_partition.setdefault(tp.partition, {})[tp.topic] = offset
        store = self.store
        for partition, committed in sorted(by_partition.items()):
            resumes = store.offsets(partition)
            resumes.update(committed)
            store.checkpoint(partition, resumes)
        if self.snapshots is not None:
            self.snapshots.after_checkpoint(store, sorted(by_partition), generation)
        self.checkpoints += 1
        self.checkpoint_seconds += time.perf_counter() - started

    async def take_over(self, partitions: Iterable[int]) -> None:
        """Restore each partition this worker has no checkpoint of from the state topic, before
        its inputs are sought (their offsets then come from the snapshot). A restore that fails
        or takes too long leaves the partition empty: it replays its inputs from offset 0."""
        shipper = self.snapshots
        if shipper is None:
            return
        owned = sorted(set(partitions))
        shipper.assigned(owned)
        missing = [partition for partition in owned if not self.store.checkpoint_seq(partition)]
        if missing:
            await self._restore(shipper, missing)

    async def _restore(self, shipper: SnapshotShipper, partitions: list[int]) -> None:
        """The partitions restored one after the other, each within ``RESTORE_TIMEOUT_S``; a
        partition whose restore failed, and every one left when reading fails, replays."""
        left = list(partitions)
        try:
            async with aclosing(shipper.restore_each(self.store, partitions)) as restores:
                while left:
                    partition, outcome = await asyncio.wait_for(anext(restores), RESTORE_TIMEOUT_S)
                    left.remove(partition)
                    self._restored(shipper, partition, outcome)
        except Exception as exc:  # noqa: BLE001 - any failure: the logs still hold everything
            for partition in left:
                self._restored(shipper, partition, exc)

    def _restored(
        self, shipper: SnapshotShipper, partition: int, outcome: Restored | None | Exception
    ) -> None:
        if isinstance(outcome, Exception):
            self.store.drop_partition(partition)
            shipper.counters.restore_failures += 1
            log.warning("state restore: partition %d not restored, replays: %r", partition, outcome)
        # Views made before (the live keys) hold the replaced state.
        self._views = {k: v for k, v in self._views.items() if k[1] != partition}
        if isinstance(outcome, Restored):
            log.info(
                "state restore: partition %d from snapshot generation %d seq %d, %d entries",
                partition,
                outcome.generation,
                outcome.seq,
                outcome.entries,
            )

    def resume_offsets(
        self, tps: Iterable[Any], group_committed: Mapping[Any, int | None]
    ) -> dict[Any, int]:
        """Where each input partition resumes: its last checkpoint's offset, or its start when
        this worker has none. ``group_committed`` (the group's offsets, read as the partitions
        were assigned) sets how far the apply agent must replay before the KPIs are current."""
        stored: dict[int, dict[str, int]] = {}
        resumes: dict[Any, int] = {}
        for tp in tps:
            if tp.partition not in stored:
                stored[tp.partition] = self.store.offsets(tp.partition)
            resumes[tp] = stored[tp.partition].get(tp.topic, 0)
            if tp.topic == self.kpi_topic:
                self._applied[tp.partition] = resumes[tp]
                self._replay_to[tp.partition] = max(group_committed.get(tp) or 0, resumes[tp])
        replay = sum(max(0, (group_committed.get(tp) or 0) - at) for tp, at in resumes.items())
        committed = sum(group_committed.get(tp) or 0 for tp in resumes)
        checkpointed = sum(1 for tp in resumes if tp.topic in stored[tp.partition])
        log.info(
            "state resume: %d input partitions, %d from a checkpoint, replaying %d of %d "
            "committed records",
            len(resumes),
            checkpointed,
            replay,
            committed,
        )
        return resumes

    def replay_remaining(self, partitions: Iterable[int]) -> int:
        """kpi-deltas records still to apply before ``replayed`` holds: its progress."""
        applied, target = self._applied, self._replay_to
        return sum(max(0, target.get(p, 0) - applied.get(p, 0)) for p in partitions)

    def replayed(self, partitions: Iterable[int]) -> bool:
        """The apply agent has reached, in each partition, the group's committed offset read
        when it was assigned: its KPIs are no older than before the rebalance or restart."""
        applied, target = self._applied, self._replay_to
        return all(applied.get(p, 0) >= target.get(p, 0) for p in partitions)
