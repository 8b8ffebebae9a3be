"""The agents' tables as mappings over one partition of the state store.

``DayTable`` holds the apply agent's day values (typed, ``projections.state_types``); the other
agents' tables are ``StoredTable``s of the shapes ``streams.folds`` writes.

The batch folds (``streams.folds``) are written against ``MutableMapping``s of JSON-shaped
values; ``StoredTable`` gives them one column family of one partition, so a fold's writes land in
that partition's dirty map and become durable at the next checkpoint (``streams.state.store``).
Values are JSON: orjson when it can, the standard library when a value holds an integer past 64
bits (orjson refuses those, and reads them back as floats), told apart by their first byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from projections.day_values import DayKey
from projections.state_keys import (
    carry_key,
    day_bound,
    day_ix_key,
    days_key,
    days_prefix,
    encode_day,
    split_day_ix_key,
    split_days_key,
    text_of_key,
)
from projections.state_types import Carry, DayValue, codec_of
from streams.state.layout import prefix_end
from streams.state.store import StateStore

_WIDE = b"\x00"
"""First byte of a value written by the standard library (integers past 64 bits)."""


def encode_value(value: Any) -> bytes:
    """A table value as bytes: orjson's JSON, or ``_WIDE`` + standard JSON for huge integers.

    Copied to a bytes object of its own size: orjson returns its write buffer, at least 4 KiB
    whatever the length (orjson 3.12+, home-assistant/core#181245), and the store keeps these
    values (value cache, changed values) by the ten thousand ("Memory and freshness" in
    docs/BENCHMARKS.md)."""
    try:
        return bytes(memoryview(orjson.dumps(value)))
    except TypeError:
        return _WIDE + json.dumps(value, separators=(",", ":")).encode()


def decode_value(raw: bytes) -> Any:
    """Inverse of ``encode_value``."""
    if raw[:1] == _WIDE:
        return json.loads(raw[1:])
    return orjson.loads(raw)


class StoredTable(MutableMapping[str, Any]):
    """Column family ``cf`` of ``partition``: text keys, JSON values, changes held until the
    next checkpoint. Iteration scans the partition (changes not yet checkpointed included)."""

    __slots__ = ("_store", "_cf", "_partition")

    def __init__(self, store: StateStore, cf: str, partition: int) -> None:
        self._store, self._cf, self._partition = store, cf, partition

    def __getitem__(self, key: str) -> Any:
        raw = self._store.get(self._cf, self._partition, key.encode())
        if raw is None:
            raise KeyError(key)
        return decode_value(raw)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._store.get(self._cf, self._partition, key.encode())
        return default if raw is None else decode_value(raw)

    def __contains__(self, key: object) -> bool:
        return (
            isinstance(key, str)
            and self._store.get(self._cf, self._partition, key.encode()) is not None
        )

    def __setitem__(self, key: str, value: Any) -> None:
        self._store.put(self._cf, self._partition, key.encode(), encode_value(value))

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._store.delete(self._cf, self._partition, key.encode())

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key, _ in self._store.scan(self._cf, self._partition))

    def __len__(self) -> int:
        return sum(1 for _ in self._store.scan(self._cf, self._partition))

    def keys_between(self, lower: str, upper: str) -> list[str]:
        """Keys in ``[lower, upper)``, ascending: one range scan (retention's indexes)."""
        scan = self._store.scan(self._cf, self._partition, lower.encode(), upper.encode())
        return [key.decode() for key, _ in scan]


class TypedTable(MutableMapping[Any, Any]):
    """One column family of one partition holding typed values (``StateCodec``): subclasses say
    how a key is written (``_raw_key``) and read back (``_key_of``)."""

    __slots__ = ("_store", "_partition", "_codec")
    CF: str = ""
    KIND: type = DayValue

    def __init__(self, store: StateStore, partition: int) -> None:
        self._store, self._partition = store, partition
        self._codec = codec_of(self.KIND)

    def _raw_key(self, key: Any) -> bytes:
        raise NotImplementedError

    def _key_of(self, raw: bytes) -> Any:
        raise NotImplementedError

    def __getitem__(self, key: Any) -> Any:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def get(self, key: Any, default: Any = None) -> Any:
        raw = self._store.get(self.CF, self._partition, self._raw_key(key))
        return default if raw is None else self._codec.decode(raw)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._store.put(self.CF, self._partition, self._raw_key(key), self._codec.encode(value))

    def __delitem__(self, key: Any) -> None:
        if self.get(key) is None:
            raise KeyError(key)
        self._store.delete(self.CF, self._partition, self._raw_key(key))

    def __iter__(self) -> Iterator[Any]:
        return (self._key_of(key) for key, _ in self._store.scan(self.CF, self._partition))

    def __len__(self) -> int:
        return sum(1 for _ in self._store.scan(self.CF, self._partition))


class DayTable(TypedTable):
    """The ``days`` of one partition: (scope key, UTC day) -> ``DayValue`` (design §3), the
    apply agent's state (``projections.day_values.apply_day_batch``) and what readouts sum.

    Each value is listed in ``day_ix`` (day first) from the moment it is first stored until it
    is deleted, so retention finds every value of the days below its horizon with one range
    scan (``prune_below``), whatever the number of retained values."""

    __slots__ = ()
    CF, KIND = "days", DayValue

    def _raw_key(self, key: DayKey) -> bytes:
        return days_key(*key)

    def _key_of(self, raw: bytes) -> DayKey:
        return split_days_key(raw)

    def __setitem__(self, key: DayKey, value: DayValue) -> None:
        raw = self._raw_key(key)
        if self._store.get(self.CF, self._partition, raw) is None:
            # The index first: a spill between the two writes leaves an index entry without
            # its value (pruning skips it), never a value retention cannot find.
            self._store.put("day_ix", self._partition, day_ix_key(key[1], key[0]), b"")
        self._store.put(self.CF, self._partition, raw, self._codec.encode(value))

    def __delitem__(self, key: DayKey) -> None:
        super().__delitem__(key)
        self._store.delete("day_ix", self._partition, day_ix_key(key[1], key[0]))

    def prune_below(self, horizon: int, lower: int | None = None) -> list[DayKey]:
        """Delete the day values of days in ``[lower, horizon)`` (``lower`` None: from the
        first day) with their index entries; returns their keys. The deletions go to the dirty
        map and become durable with the next checkpoint, atomically with the offsets."""
        start = encode_day(lower) if lower is not None else b""
        found = list(self._store.scan("day_ix", self._partition, start, day_bound(horizon)))
        pruned = []
        for index_key, _ in found:
            day, scope_key = split_day_ix_key(index_key)
            raw = self._raw_key((scope_key, day))
            if self._store.get(self.CF, self._partition, raw) is not None:
                self._store.delete(self.CF, self._partition, raw)
                pruned.append((scope_key, day))
            self._store.delete("day_ix", self._partition, index_key)
        return pruned

    def days_from(self, scope_key: str, first_day: int) -> Iterator[tuple[int, DayValue]]:
        """The day values of ``scope_key`` from ``first_day`` on, in day order (one range scan:
        a key's days are contiguous)."""
        prefix = days_prefix(scope_key)
        lower = days_key(scope_key, first_day)
        for key, raw in self._store.scan("days", self._partition, lower, prefix_end(prefix)):
            yield split_days_key(key)[1], self._codec.decode(raw)


class StockTable(TypedTable):
    """The open-deal stock totals of one partition's scope keys (``carry`` column family)."""

    __slots__ = ()
    CF, KIND = "carry", Carry

    def _raw_key(self, key: str) -> bytes:
        return carry_key(key)

    def _key_of(self, raw: bytes) -> str:
        return text_of_key(raw)
