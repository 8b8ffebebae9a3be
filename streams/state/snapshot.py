"""Incremental snapshot chains of one partition on a compacted topic (design state-engine-v2 §6).

Kafka stays outside this module: the writer returns records (key, value | None) to send, the
restorer takes the records of the topic partition read from its earliest offset, in log order.

**Consistency.** A snapshot must equal exactly one checkpoint. ``write_snapshot`` reads through a
``CheckpointView``; ``StoreView`` reads the live store, so the lead calls ``write_snapshot``
right after ``StateStore.checkpoint(p, ...)`` on the event loop, synchronously (no ``await`` in
between): no agent runs, the partition's dirty map is empty (``StoreView`` refuses otherwise),
and every value read is the checkpoint's. Sending is asynchronous afterwards: the records are
built eagerly, so later changes cannot leak in. (A background build would need a view over
``db.snapshot()`` taken right after the checkpoint batch; any object with ``CheckpointView``'s
methods fits.)

**Send order.** One snapshot in flight per partition: send ``records`` (chunks, then the
manifest, acks=all); once all are acknowledged call ``settle(store, p, snapshot.checkpoint_seq)``,
send ``cleanup`` (tombstones) and adopt ``snapshot.acknowledged``; if any send failed adopt
``snapshot.abandoned`` (its chunks become stale and are tombstoned by the next cleanup).
Tombstones go only after the new manifest is acknowledged, so the log always holds a complete
chain.

**Fencing.** Keys carry the writer's generation (consumer generation at assignment): a zombie of
a lower generation writes only keys of its own generation, never one of a higher generation, and
the restorer takes the highest generation with a complete chain. A zombie that rebases may
tombstone chunks of its generation that a newer chain it does not know continued from; that
newer chain is then incomplete and the restorer falls back to the next complete one, which is
still a valid prefix state (§7 I1): later but never wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from events.errors import Conflict
from streams.state.layout import (
    CF_ID,
    COLUMN_FAMILIES,
    PENDING,
    VALUE_FAMILIES,
    decode_seq,
    split_pending_key,
)
from streams.state.snapshot_records import (
    CHUNK_BYTES,
    Entry,
    Link,
    Manifest,
    Record,
    chunk_key,
    compacted,
    crc,
    encode_manifest,
    manifest_key,
    pack_chunks,
    replaced_keys,
    select_chain,
    unpack_chunk,
)
from streams.state.store import StateStore

RESTORE_BATCH_BYTES = 4 << 20
"""Bytes of values written into the local DB per batch while restoring (design §5)."""


class StaleGeneration(Conflict):
    """The writer's generation is below the chain's: it is a zombie and must not write."""


class CheckpointView(Protocol):
    """One partition exactly as of one checkpoint (what a snapshot reads)."""

    partition: int

    def scan(self, cf: str) -> Iterator[tuple[bytes, bytes]]: ...

    def get(self, cf: str, key: bytes) -> bytes | None: ...

    def offsets(self) -> dict[str, int]: ...

    def extra(self) -> bytes: ...

    def checkpoint_seq(self) -> int: ...


class StoreView:
    """The live store as a ``CheckpointView``: exact only while nothing changes the partition,
    i.e. when used synchronously right after its checkpoint (see the module docstring)."""

    def __init__(self, store: StateStore, partition: int) -> None:
        if store.partition(partition).dirty:
            raise ValueError(f"partition {partition} has changes since its checkpoint")
        if not store.checkpoint_seq(partition):
            raise ValueError(f"partition {partition} was never checkpointed")
        self.store, self.partition = store, partition

    def scan(self, cf: str) -> Iterator[tuple[bytes, bytes]]:
        return self.store.scan(cf, self.partition)

    def get(self, cf: str, key: bytes) -> bytes | None:
        return self.store.get(cf, self.partition, key)

    def offsets(self) -> dict[str, int]:
        return self.store.offsets(self.partition)

    def extra(self) -> bytes:
        return self.store.meta(self.partition) or b""

    def checkpoint_seq(self) -> int:
        return self.store.checkpoint_seq(self.partition)


@dataclass(frozen=True)
class RebasePolicy:
    """When a chain has outgrown the state: after ``max_deltas`` deltas, or once its deltas
    hold more bytes than its base (the state's size when based), so a restore reads about
    twice the state at most (plus the last delta)."""

    max_deltas: int = 32
    chunk_bytes: int = CHUNK_BYTES

    def wants_base(self, chain: Manifest | None) -> bool:
        if chain is None:
            return True
        return chain.deltas >= self.max_deltas or chain.delta_bytes > chain.links[0].size


@dataclass(frozen=True)
class ChainState:
    """What the writer of a partition knows of its chain: the last acknowledged manifest (its
    own, or the one it restored from), the next unused seq, chunk keys left by failed sends.
    ``ChainState()`` starts a new chain with a base (after a restore from local state)."""

    manifest: Manifest | None = None
    next_seq: int = 1
    stale: tuple[bytes, ...] = ()

    @classmethod
    def continuing(cls, manifest: Manifest) -> ChainState:
        """The chain a new owner continues after restoring ``manifest``."""
        return cls(manifest, manifest.seq + 1)


@dataclass(frozen=True)
class Snapshot:
    """The records of one snapshot and the chain states to adopt after sending them."""

    records: list[Record]
    """Chunks then the manifest: send in order, acks=all."""
    cleanup: list[Record]
    """Tombstones of chunks no chain needs any more: send only after ``records`` are acked."""
    manifest: Manifest
    checkpoint_seq: int
    """The store checkpoint it matches: ``settle`` its ``pending`` markers once acked."""
    acknowledged: ChainState
    abandoned: ChainState

    @property
    def is_base(self) -> bool:
        return self.manifest.parent is None


def write_snapshot(
    view: CheckpointView,
    generation: int,
    chain: ChainState,
    policy: RebasePolicy = RebasePolicy(),
) -> Snapshot:
    """The next snapshot of ``view``'s partition: a delta (value or deletion of every key a
    ``pending`` marker names) or, when ``policy`` says the chain outgrew the state, a base (every
    live value of every value column family). Raises ``StaleGeneration`` for a zombie."""
    if generation < 0:
        raise ValueError(f"generation {generation} is not one of a group member")
    previous = chain.manifest
    if previous is not None and generation < previous.gen:
        raise StaleGeneration(f"generation {generation} below the chain's {previous.gen}")
    base = policy.wants_base(previous)
    entries = _base_entries(view) if base else _delta_entries(view)
    bodies = list(pack_chunks(entries, policy.chunk_bytes))
    seq, partition = chain.next_seq, view.partition
    link = Link(generation, seq, tuple(crc(body) for body in bodies), sum(map(len, bodies)))
    manifest = _manifest(view, generation, link, None if base else previous)
    chunks = [(chunk_key(partition, generation, seq, n), body) for n, body in enumerate(bodies)]
    stale = list(chain.stale)
    if base and previous is not None:
        stale += replaced_keys(partition, previous, generation)
    return Snapshot(
        records=[*chunks, (manifest_key(partition, generation), encode_manifest(manifest))],
        cleanup=[(key, None) for key in stale],
        manifest=manifest,
        checkpoint_seq=view.checkpoint_seq(),
        acknowledged=ChainState(manifest, seq + 1),
        abandoned=ChainState(previous, seq + 1, (*chain.stale, *(key for key, _ in chunks))),
    )


def _manifest(view: CheckpointView, gen: int, link: Link, parent: Manifest | None) -> Manifest:
    return Manifest(
        gen=gen,
        seq=link.seq,
        base_seq=link.seq if parent is None else parent.base_seq,
        parent=None if parent is None else (parent.gen, parent.seq),
        links=(link,) if parent is None else (*parent.links, link),
        offsets=view.offsets(),
        extra=view.extra(),
    )


def _base_entries(view: CheckpointView) -> Iterator[Entry]:
    for index, cf in enumerate(COLUMN_FAMILIES):
        if cf in VALUE_FAMILIES:
            for key, value in view.scan(cf):
                yield index, key, value


def _delta_entries(view: CheckpointView) -> Iterator[Entry]:
    for marker, _ in view.scan(PENDING):
        cf, key = split_pending_key(marker)
        yield CF_ID[cf], key, view.get(cf, key)


# -- settling pending markers ------------------------------------------------------------------


class PendingMarkers(Protocol):
    """What ``settle`` needs of the store (``StateStore`` has both): ``delete_pending`` deletes
    these ``pending`` markers (keys after the partition prefix) of ``partition`` in one batch
    written at once, without touching values, the dirty map or the meta record."""

    def scan(
        self, cf: str, partition: int, lower: bytes = b"", upper: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]: ...

    def delete_pending(self, partition: int, markers: Iterable[bytes]) -> None: ...


def settle(store: PendingMarkers, partition: int, seq: int) -> int:
    """Delete the ``pending`` markers at checkpoint ``seq`` or before, once the snapshot of that
    checkpoint is acknowledged; markers of later checkpoints (the key changed again) stay.
    Call it synchronously (scan and delete with no checkpoint in between). Losing the deletion
    in a crash only makes the next delta send those values again. Returns how many."""
    done = [marker for marker, raw in store.scan(PENDING, partition) if decode_seq(raw) <= seq]
    if done:
        store.delete_pending(partition, done)
    return len(done)


# -- restoring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    """What ``restore_partition`` wrote into the local store."""

    generation: int
    seq: int
    offsets: dict[str, int]
    entries: int
    """Values and deletions the chain applied, base first (a key changed by several deltas
    counts once per delta); the live values are at most as many."""
    manifest: Manifest = field(repr=False)

    @property
    def chain(self) -> ChainState:
        """The chain state a writer continues with (its generation must be ≥ ours)."""
        return ChainState.continuing(self.manifest)


def restore_partition(
    records: Iterable[Record],
    partition: int,
    store: StateStore,
    batch_bytes: int = RESTORE_BATCH_BYTES,
) -> Restored | None:
    """Replace the partition's local state by the best complete chain of ``records`` (the topic
    partition from its earliest offset, in log order) and checkpoint it with the manifest's
    offsets and meta bytes; None (store untouched) when no chain is complete. The values go
    straight into the DB (``StateStore.load``): they are not pending, the topic has them.
    Call it before any agent touches the partition. A crash midway leaves values without a meta
    record: offsets from the start, state ahead of them, which the folds tolerate (§7 I3)."""
    found = select_chain(compacted(records, partition), partition)
    if found is None:
        return None
    manifest, bodies = found
    store.drop_partition(partition)
    entries = (entry for body in bodies for entry in unpack_chunk(body))
    count = store.load(partition, _named_families(entries), batch_bytes)
    store.checkpoint(partition, manifest.offsets, manifest.extra)
    return Restored(manifest.gen, manifest.seq, dict(manifest.offsets), count, manifest)


def _named_families(
    entries: Iterable[Entry],
) -> Iterator[tuple[str, bytes, bytes | None]]:
    """Chunk entries (column family index, key, value) with the family's name, refusing an
    index that names no value family (a chunk of another layout)."""
    for index, key, value in entries:
        cf = COLUMN_FAMILIES[index] if 0 <= index < len(COLUMN_FAMILIES) else ""
        if cf not in VALUE_FAMILIES:
            raise ValueError(f"snapshot entry names column family {index}, not a value family")
        yield cf, key, value
