"""A bounded LRU of clean values, so hot keys are read from RocksDB once, not once per batch.

It holds only values equal to what RocksDB holds (checkpointed or spilled, or just read), and
known absences (``None``): a fold asks for many keys that do not exist yet, each a RocksDB miss
otherwise. Changed values live in the partition's dirty map until a checkpoint writes them, then
move here. Bounded by entries and by bytes, whichever is reached first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

CacheKey = tuple[str, int, bytes]
"""(column family, partition, key inside the partition)."""

ABSENT = object()
"""What ``lookup`` returns for a key the cache knows nothing about (``None`` means: known to
have no value)."""


class ValueCache:
    """Least recently used clean values of every partition of one store."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        if max_entries < 0 or max_bytes < 0:
            raise ValueError("cache bounds must not be negative")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[CacheKey, bytes | None] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Bytes of the cached values (keys not counted)."""
        return self._bytes

    def lookup(self, key: CacheKey) -> bytes | None | object:
        """The cached value, ``None`` for a known absence, or ``ABSENT``."""
        value = self._entries.get(key, ABSENT)
        if value is not ABSENT:
            self._entries.move_to_end(key)
        return value

    def remember(self, key: CacheKey, value: bytes | None) -> None:
        """Cache ``value`` (``None``: no value) as the newest entry, evicting the oldest ones."""
        self.forget(key)
        size = len(value) if value is not None else 0
        if size > self.max_bytes or self.max_entries == 0:
            return
        self._entries[key] = value
        self._bytes += size
        self._evict()

    def remember_all(self, entries: Iterable[tuple[CacheKey, bytes | None]]) -> None:
        """``remember`` each entry in order, evicting once at the end (a checkpoint's values;
        the bounds may be passed while this runs, by entries the dirty map held anyway)."""
        cached, limit = self._entries, self.max_bytes
        for key, value in entries:
            size = len(value) if value is not None else 0
            if size > limit:
                self.forget(key)
                continue
            old = cached.pop(key, None)
            cached[key] = value
            self._bytes += size - (len(old) if old is not None else 0)
        self._evict()

    def forget(self, key: CacheKey) -> None:
        """Drop ``key`` (it is being changed; the dirty map holds its value now)."""
        old = self._entries.pop(key, ABSENT)
        if old is not ABSENT and old is not None:
            self._bytes -= len(old)  # type: ignore[arg-type]

    def forget_where(self, doomed: Callable[[CacheKey], bool]) -> None:
        """Drop every entry ``doomed`` selects (a dropped partition; rare, so a full pass)."""
        for key in [key for key in self._entries if doomed(key)]:
            self.forget(key)

    def _evict(self) -> None:
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, old = self._entries.popitem(last=False)
            if old is not None:
                self._bytes -= len(old)
