"""A compacted snapshot topic partition without Kafka
(tests/unit/streams/state/test_state_snapshot.py).

``SnapshotTopic`` is one topic partition: an append-only list of (key, value | None) records.
``compact(upto)`` does what Kafka's log cleaner does to the cleanable part of the log: a record
before ``upto`` goes when the same key is written again before ``upto``; tombstones there go
too when ``drop_tombstones`` (after ``delete.retention.ms``). The active part is untouched.

``SnapshotOwner`` plays a partition's owner for the property test: checkpoints, one snapshot in
flight, acknowledgements that may come after later checkpoints, failed sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from streams.state import StateStore
from streams.state.layout import VALUE_FAMILIES
from streams.state.snapshot import (
    ChainState,
    RebasePolicy,
    Snapshot,
    StoreView,
    settle,
    write_snapshot,
)

Record = tuple[bytes, bytes | None]
State = dict[tuple[str, bytes], bytes]


def state_of(store: StateStore, partition: int) -> State:
    """Every value of the partition, by (column family, key)."""
    return {
        (cf, key): value
        for cf in sorted(VALUE_FAMILIES)
        for key, value in store.scan(cf, partition)
    }


class SnapshotTopic:
    """One partition of a compacted topic, read from its earliest offset."""

    def __init__(self) -> None:
        self.log: list[Record] = []

    def send(self, records: Iterable[Record]) -> None:
        self.log.extend(records)

    def read(self) -> Iterator[Record]:
        return iter(list(self.log))

    def live_keys(self) -> set[bytes]:
        """Keys whose latest record is a value (what a reader ends up with)."""
        latest: dict[bytes, bytes | None] = dict(self.log)
        return {key for key, value in latest.items() if value is not None}

    def compact(self, upto: int | None = None, drop_tombstones: bool = False) -> None:
        """Clean the records before position ``upto`` (all by default)."""
        end = len(self.log) if upto is None else min(upto, len(self.log))
        last = {key: at for at, (key, _) in enumerate(self.log[:end])}
        cleaned = [
            (key, value)
            for at, (key, value) in enumerate(self.log[:end])
            if last[key] == at and (value is not None or not drop_tombstones)
        ]
        self.log = cleaned + self.log[end:]


class SnapshotOwner:
    """A partition's owner writing snapshots to ``topic``; ``expected`` is the state and offsets
    of the checkpoint its last acknowledged snapshot matches (None: none acknowledged)."""

    def __init__(self, store: StateStore, partition: int, policy: RebasePolicy) -> None:
        self.store, self.partition, self.policy = store, partition, policy
        self.topic, self.gen, self.chain = SnapshotTopic(), 1, ChainState()
        store.put("customers", partition, b"ballast", bytes(3000))  # deltas rarely outgrow it
        self.in_flight: tuple[Snapshot, State, dict[str, int]] | None = None
        self.expected: tuple[State, dict[str, int]] | None = None

    def checkpoint(self) -> None:
        self.store.checkpoint(self.partition, {"deal-events": len(self.topic.log)})

    def snapshot(self) -> None:
        """Checkpoint and take a snapshot, unless one is in flight."""
        if self.in_flight is None:
            self.checkpoint()
            view = StoreView(self.store, self.partition)
            snapshot = write_snapshot(view, self.gen, self.chain, self.policy)
            state = state_of(self.store, self.partition)
            self.in_flight = snapshot, state, self.store.offsets(self.partition)

    def acknowledged(self) -> None:
        """Every record of the snapshot in flight reached the topic: settle and clean up."""
        if self.in_flight is not None:
            snapshot, state, offsets = self.in_flight
            self.topic.send(snapshot.records)
            settle(self.store, self.partition, snapshot.checkpoint_seq)
            self.topic.send(snapshot.cleanup)
            self.chain, self.expected, self.in_flight = (
                snapshot.acknowledged,
                (state, offsets),
                None,
            )

    def failed(self, sent: int) -> None:
        """Some records of the snapshot in flight reached the topic, never its manifest."""
        if self.in_flight is not None:
            snapshot = self.in_flight[0]
            self.topic.send(snapshot.records[: min(sent, len(snapshot.records) - 1)])
            self.chain, self.in_flight = snapshot.abandoned, None

    def run(self, step: tuple) -> None:
        """One step of a generated history (see the property test's strategy)."""
        kind, *args = step
        if kind == "put":
            self.store.put(args[0], self.partition, args[1], args[2])
        elif kind == "delete":
            self.store.delete(args[0], self.partition, args[1])
        elif kind == "spill":
            self.store.spill(self.partition)
        elif kind == "new generation":
            self.gen += 1
        elif kind == "compact":
            self.topic.compact(int(args[0] * len(self.topic.log)), args[1])
        elif kind == "failed":
            self.failed(args[0])
        else:
            getattr(self, kind)()


class StateTopicPartitions:
    """The whole state topic as the shipper sees it (``streams.state.snapshot_shipper``): one
    ``SnapshotTopic`` per partition, async like Kafka. ``fail_sends`` makes every send raise
    (a broker that refuses), counting the attempts."""

    def __init__(self) -> None:
        self.partitions: dict[int, SnapshotTopic] = {}
        self.fail_sends = False
        self.refused = 0

    def of(self, partition: int) -> SnapshotTopic:
        return self.partitions.setdefault(partition, SnapshotTopic())

    async def send_all(self, partition: int, records: list[Record]) -> None:
        if self.fail_sends and records:
            self.refused += 1
            raise ConnectionError("broker unavailable")
        self.of(partition).send(records)

    async def read_partitions(
        self, partitions: list[int]
    ) -> AsyncIterator[tuple[int, list[Record]]]:
        for partition in partitions:
            yield partition, list(self.of(partition).read())
