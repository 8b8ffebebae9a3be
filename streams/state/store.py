"""The worker's local state: one RocksDB, checkpointed once per Faust commit (design §3-§4).

Agents read and change values of their partitions through ``StateStore``; changes stay in memory
(each partition's dirty map) until ``checkpoint(partition, offsets)`` writes them in ONE atomic
``WriteBatch`` together with ``pending`` markers (what changed since the last snapshot) and the
meta record holding the next input offsets. After a kill -9 the DB holds a whole number of
batches, so the meta record names offsets every stored value has folded (invariant I1).

A dirty map growing past its bound between two commits (a backfill) is *spilled*: values and
markers without meta. The stored state is then ahead of the stored offsets, which the folds
tolerate (I3): a replay from those offsets emits exactly what the first processing did.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from rocksdict import Rdict, WriteBatch

from streams.state.cache import ValueCache
from streams.state.faults import IN_SPILL, NO_FAULTS, FaultSwitch
from streams.state.layout import (
    COLUMN_FAMILIES,
    META,
    META_KEY,
    PENDING,
    MetaRecord,
    decode_meta,
    encode_meta,
    encode_seq,
    partition_prefix,
    pending_key,
    prefix_end,
)
from streams.state.options import StoreLimits, db_options, write_options
from streams.state.partition import DirtyKey, PartitionStore

STATE_DIR = "state-v2"
"""Subdirectory of the worker's data_dir holding the DB (beside v1's Faust tables)."""


class StateStore:
    """Every partition's state of one worker, in one RocksDB with a column family per kind."""

    def __init__(
        self, path: Path, limits: StoreLimits | None = None, faults: FaultSwitch = NO_FAULTS
    ) -> None:
        """Open (or create) the DB at ``path``; prefer ``open_store`` for a settings URL.
        ``faults``: test-only crash points (``streams.state.faults``)."""
        self.path = path
        self.limits = limits or StoreLimits()
        self.faults = faults
        options, families = db_options(self.limits)
        self._db = Rdict(str(path), options=options, column_families=families)
        self._views = {name: self._db.get_column_family(name) for name in COLUMN_FAMILIES}
        self._handles = {name: self._db.get_column_family_handle(name) for name in COLUMN_FAMILIES}
        self._write_options = write_options()
        self.cache = ValueCache(self.limits.cached_values, self.limits.cached_bytes)
        self._partitions: dict[int, PartitionStore] = {}
        self.dirty_values = 0
        self.dirty_bytes = 0

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the DB. Uncheckpointed changes are dropped: their input is replayed.
        Every column family handle and view is released first, or RocksDB stays open."""
        self._partitions.clear()
        self._handles.clear()
        for view in self._views.values():
            view.close()
        self._views.clear()
        self._db.close()

    # -- reads and writes ---------------------------------------------------------------

    def partition(self, partition: int) -> PartitionStore:
        """The partition's state, its meta record read from the DB on first use."""
        found = self._partitions.get(partition)
        if found is None:
            found = PartitionStore(partition, self._views, self.cache)
            raw = self._views[META].get(found.prefix + META_KEY)
            if raw is not None:
                found.meta = decode_meta(raw)
            self._partitions[partition] = found
        return found

    def get(self, cf: str, partition: int, key: bytes) -> bytes | None:
        """The current value of ``key`` in ``cf`` of ``partition``, or None."""
        return self.partition(partition).get(cf, key)

    def put(self, cf: str, partition: int, key: bytes, value: bytes) -> None:
        """Set a value; durable at the next checkpoint (or spill)."""
        self._count(self.partition(partition).put(cf, key, value))

    def delete(self, cf: str, partition: int, key: bytes) -> None:
        """Delete a value; durable at the next checkpoint (or spill)."""
        self._count(self.partition(partition).delete(cf, key))

    def scan(
        self, cf: str, partition: int, lower: bytes = b"", upper: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of ``partition`` in ``[lower, upper)``, ascending, dirty changes
        included (retention: every ``day_ix`` key below the horizon). Exhaust or drop the
        iterator before ``close``: it keeps the DB open."""
        return self.partition(partition).scan(cf, lower, upper)

    def scan_prefix(self, cf: str, partition: int, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of ``partition`` whose key starts with ``prefix``, ascending."""
        return self.partition(partition).scan_prefix(cf, prefix)

    def _count(self, change: tuple[int, int]) -> None:
        self.dirty_values += change[0]
        self.dirty_bytes += change[1]
        if (
            self.dirty_values > self.limits.dirty_values
            or self.dirty_bytes > self.limits.dirty_bytes
        ):
            self.spill_all()

    # -- durability -----------------------------------------------------------------------

    def checkpoint(self, partition: int, offsets: Mapping[str, int], meta: bytes = b"") -> int:
        """Write the partition's changes, their ``pending`` markers and the meta record (next
        input offsets, ``meta`` bytes, a new sequence number) as one atomic batch; returns the
        sequence number. Call it after the outputs of input below ``offsets`` are acknowledged
        (design §4 step 2), before the Kafka commit."""
        part = self.partition(partition)
        record = MetaRecord(seq=part.meta.seq + 1, offsets=dict(offsets), extra=bytes(meta))
        self._write(part, record)
        part.meta = record
        return record.seq

    def spill(self, partition: int) -> int:
        """Write the partition's changes and markers without meta ("ahead" state); returns how
        many values were written."""
        part = self.partition(partition)
        return self._write(part, None) if part.dirty else 0

    def spill_all(self) -> int:
        """Spill every partition holding changes (the dirty bound was passed)."""
        return sum(self.spill(part.partition) for part in list(self._partitions.values()))

    def _write(self, part: PartitionStore, record: MetaRecord | None) -> int:
        seq = record.seq if record is not None else part.meta.seq + 1
        dirty = part.take_dirty()
        self.dirty_values -= len(dirty)
        self.dirty_bytes -= sum(len(value) for value in dirty.values() if value is not None)
        try:
            batch = self._batch(part.prefix, dirty, seq)
            if record is not None:
                batch.put(part.prefix + META_KEY, encode_meta(record), self._handles[META])
            self._db.write(batch, self._write_options)
        except BaseException:
            part.restore_dirty(dirty)
            self._recount()
            raise
        part.settle(dirty)
        if record is None:
            self.faults.reached(IN_SPILL)
        return len(dirty)

    def _batch(self, prefix: bytes, dirty: dict[DirtyKey, bytes | None], seq: int) -> WriteBatch:
        batch = WriteBatch(raw_mode=True)
        marker = encode_seq(seq)
        pending = self._handles[PENDING]
        for (cf, key), value in dirty.items():
            if value is None:
                batch.delete(prefix + key, self._handles[cf])
            else:
                batch.put(prefix + key, value, self._handles[cf])
            batch.put(prefix + pending_key(cf, key), marker, pending)
        return batch

    def _recount(self) -> None:
        parts = self._partitions.values()
        self.dirty_values = sum(len(part.dirty) for part in parts)
        self.dirty_bytes = sum(part.dirty_bytes for part in parts)

    # -- checkpoint records ---------------------------------------------------------------

    def offsets(self, partition: int) -> dict[str, int]:
        """Next input offsets of the partition's last checkpoint ({}: none)."""
        return dict(self.partition(partition).meta.offsets)

    def meta(self, partition: int) -> bytes | None:
        """The engine's bytes of the last checkpoint (None: never checkpointed)."""
        record = self.partition(partition).meta
        return record.extra if record.seq else None

    def checkpoint_seq(self, partition: int) -> int:
        """Sequence number of the partition's last checkpoint (0: none)."""
        return self.partition(partition).meta.seq

    def stored_partitions(self) -> list[int]:
        """Partitions with a checkpoint in the DB (owned or not: unowned ones get dropped)."""
        stored = self._views[META].keys(from_key=b"")
        return sorted(int.from_bytes(key[:2], "big") for key in stored)

    def delete_pending(self, partition: int, markers: Iterable[bytes]) -> None:
        """Delete these ``pending`` markers of ``partition`` (keys after the partition prefix)
        in one batch, now: a snapshot acknowledged by Kafka no longer needs them. Markers are
        only written inside checkpoints and spills, on this same thread, so none can be written
        in between; a deletion lost in a crash only sends those values again."""
        prefix = partition_prefix(partition)
        batch = WriteBatch(raw_mode=True)
        handle = self._handles[PENDING]
        for marker in markers:
            batch.delete(prefix + marker, handle)
        self._db.write(batch, self._write_options)

    def load(
        self, partition: int, entries: Iterable[tuple[str, bytes, bytes | None]], batch_bytes: int
    ) -> int:
        """Write restored values (``None``: a deletion) of ``partition`` straight into the DB,
        in batches of ``batch_bytes``: no dirty map, no cache, no ``pending`` markers (what a
        snapshot restores is on the state topic already). The partition must hold no changes;
        a checkpoint afterwards records the offsets. Returns how many entries were written."""
        if self.partition(partition).dirty:
            raise ValueError(f"partition {partition} has changes: load into an empty partition")
        prefix, handles = partition_prefix(partition), self._handles
        batch, held, count = WriteBatch(raw_mode=True), 0, 0
        for cf, key, value in entries:
            if value is None:
                batch.delete(prefix + key, handles[cf])
            else:
                batch.put(prefix + key, value, handles[cf])
            held += len(key) + (len(value) if value is not None else 0)
            count += 1
            if held >= batch_bytes:
                self._db.write(batch, self._write_options)
                batch, held = WriteBatch(raw_mode=True), 0
        self._db.write(batch, self._write_options)
        self.cache.forget_where(lambda key: key[1] == partition)
        return count

    def drop_partition(self, partition: int) -> None:
        """Delete every value, marker and the meta record of ``partition`` in one batch, and
        forget its changes and cached values; other partitions are untouched."""
        prefix = partition_prefix(partition)
        end = prefix_end(prefix)
        batch = WriteBatch(raw_mode=True)
        for name in COLUMN_FAMILIES:
            batch.delete_range(prefix, end, self._handles[name])
        self._db.write(batch, self._write_options)
        part = self._partitions.pop(partition, None)
        if part is not None:
            self.dirty_values -= len(part.dirty)
            self.dirty_bytes -= part.dirty_bytes
        self.cache.forget_where(lambda key: key[1] == partition)


def open_store(
    url: str, data_dir: Path, limits: StoreLimits | None = None, faults: FaultSwitch = NO_FAULTS
) -> StateStore:
    """The store a settings URL names: ``rocksdb://`` keeps ``<data_dir>/state-v2`` across
    restarts; ``memory://`` wipes it at open, so every start is a fresh host (design §5)."""
    path = Path(data_dir) / STATE_DIR
    if url.startswith("memory://"):
        shutil.rmtree(path, ignore_errors=True)
    elif not url.startswith("rocksdb://"):
        raise ValueError(f"unknown state store URL {url!r}: use 'rocksdb://' or 'memory://'")
    path.mkdir(parents=True, exist_ok=True)
    return StateStore(path, limits, faults)
