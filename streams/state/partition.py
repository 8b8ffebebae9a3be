"""One partition's view of the state DB: its dirty map, its meta record, its key ranges.

Agents change values here between two checkpoints; nothing reaches RocksDB until the store
writes the dirty map as one batch (a checkpoint, or a spill when it grows too large). Reads see
the partition's own changes first, then the shared LRU of clean values, then RocksDB.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from rocksdict import ReadOptions

from streams.state.cache import ABSENT, ValueCache
from streams.state.layout import (
    COLUMN_FAMILIES,
    VALUE_FAMILIES,
    MetaRecord,
    partition_prefix,
    prefix_end,
)

DirtyKey = tuple[str, bytes]
"""(column family, key inside the partition)."""


class FamilyView(Protocol):
    """What a partition needs of one column family of the DB (a rocksdict ``Rdict`` view)."""

    def get(self, key: bytes) -> bytes | None: ...

    def items(self, from_key: bytes, read_opt: ReadOptions) -> Iterator[tuple[bytes, bytes]]: ...


def _value_family(cf: str) -> str:
    if cf not in VALUE_FAMILIES:
        raise ValueError(f"not a value column family: {cf!r}")
    return cf


def _size(value: bytes | None) -> int:
    return len(value) if value is not None else 0


class PartitionStore:
    """State of one partition: reads through every layer, writes into the dirty map."""

    def __init__(self, partition: int, views: Mapping[str, FamilyView], cache: ValueCache) -> None:
        self.partition = partition
        self.prefix = partition_prefix(partition)
        self._views = views
        self._cache = cache
        self.dirty: dict[DirtyKey, bytes | None] = {}
        self.dirty_bytes = 0
        self.meta = MetaRecord()
        """The last checkpoint's meta record (seq 0, no offsets: never checkpointed)."""

    def get(self, cf: str, key: bytes) -> bytes | None:
        """The value of ``key``: a change not yet checkpointed, else the cached or stored one."""
        dirty = self.dirty.get((_value_family(cf), key), ABSENT)
        if dirty is not ABSENT:
            return dirty  # type: ignore[return-value]
        cache_key = (cf, self.partition, key)
        cached = self._cache.lookup(cache_key)
        if cached is not ABSENT:
            return cached  # type: ignore[return-value]
        stored = self._views[cf].get(self.prefix + key)
        self._cache.remember(cache_key, stored)
        return stored

    def put(self, cf: str, key: bytes, value: bytes) -> tuple[int, int]:
        """Record a new value; returns the change of (dirty entries, dirty bytes)."""
        if not isinstance(value, bytes):
            raise TypeError(f"state values are bytes, not {type(value).__name__}")
        return self._change(cf, key, value)

    def delete(self, cf: str, key: bytes) -> tuple[int, int]:
        """Record a deletion; returns the change of (dirty entries, dirty bytes)."""
        return self._change(cf, key, None)

    def _change(self, cf: str, key: bytes, value: bytes | None) -> tuple[int, int]:
        dirty_key = (_value_family(cf), key)
        old = self.dirty.get(dirty_key, ABSENT)
        self.dirty[dirty_key] = value
        self._cache.forget((cf, self.partition, key))
        grown = _size(value) - (_size(old) if old is not ABSENT else 0)  # type: ignore[arg-type]
        self.dirty_bytes += grown
        return (0 if old is not ABSENT else 1), grown

    def take_dirty(self) -> dict[DirtyKey, bytes | None]:
        """Hand the dirty map over to a batch being written; the partition starts a new one."""
        dirty, self.dirty, self.dirty_bytes = self.dirty, {}, 0
        return dirty

    def restore_dirty(self, dirty: dict[DirtyKey, bytes | None]) -> None:
        """Put back a dirty map whose batch failed, under changes made since (newer win)."""
        dirty.update(self.dirty)
        self.dirty = dirty
        self.dirty_bytes = sum(_size(value) for value in dirty.values())

    def settle(self, written: dict[DirtyKey, bytes | None]) -> None:
        """Written values are clean now: keep them in the LRU, they are the hottest keys."""
        partition, dirty = self.partition, self.dirty
        self._cache.remember_all(
            ((cf, partition, key), value)
            for (cf, key), value in written.items()
            if (cf, key) not in dirty
        )

    def scan(
        self, cf: str, lower: bytes = b"", upper: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Keys of this partition in ``[lower, upper)`` (``upper`` None: to the partition's end),
        ascending, with their values; changes not yet checkpointed included (any column family:
        a snapshot scans ``pending``). The dirty part is
        taken when the scan starts; the RocksDB part reads one implicit snapshot."""
        if cf not in COLUMN_FAMILIES:
            raise ValueError(f"unknown column family: {cf!r}")
        overlay = sorted(
            (key, value)
            for (family, key), value in self.dirty.items()
            if family == cf and key >= lower and (upper is None or key < upper)
        )
        return _merge(self._stored(cf, lower, upper), overlay)

    def scan_prefix(self, cf: str, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Keys of this partition starting with ``prefix``, ascending."""
        return self.scan(cf, prefix, prefix_end(prefix) if prefix else None)

    def _stored(self, cf: str, lower: bytes, upper: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        end = self.prefix + upper if upper is not None else prefix_end(self.prefix)
        options = ReadOptions()
        options.set_iterate_upper_bound(end)
        cut = len(self.prefix)
        for key, value in self._views[cf].items(from_key=self.prefix + lower, read_opt=options):
            yield key[cut:], value


def _merge(
    stored: Iterator[tuple[bytes, bytes]], overlay: list[tuple[bytes, bytes | None]]
) -> Iterator[tuple[bytes, bytes]]:
    """Stored entries with the overlay's changes applied (``None``: deleted), in key order."""
    changes = iter(overlay)
    change = next(changes, None)
    for key, value in stored:
        while change is not None and change[0] < key:
            if change[1] is not None:
                yield change  # type: ignore[misc]
            change = next(changes, None)
        if change is not None and change[0] == key:
            if change[1] is not None:
                yield change  # type: ignore[misc]
            change = next(changes, None)
            continue
        yield key, value
    while change is not None:
        if change[1] is not None:
            yield change  # type: ignore[misc]
        change = next(changes, None)
