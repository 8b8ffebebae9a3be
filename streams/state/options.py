"""RocksDB options for the local state DB: a small, bounded memory footprint.

RocksDB's defaults size each column family's memtables at 64 MiB (two of them), so nine column
families could hold over 1 GiB before a flush, and an unbounded table cache keeps every index
and filter block. Here every column family shares one block cache (which also holds the index
and filter blocks) and one ``WriteBufferManager`` caps the memtables of all of them together;
the WAL stays on (a checkpoint is durable against a process kill once ``write`` returns).
"""

from __future__ import annotations

from dataclasses import dataclass

from rocksdict import (
    BlockBasedOptions,
    Cache,
    DBCompressionType,
    DBRecoveryMode,
    Options,
    WriteBufferManager,
    WriteOptions,
)

from streams.state.layout import COLUMN_FAMILIES

MIB = 1 << 20
CACHED_VALUE_BYTES = 640
"""What one clean value costs in the LRU with its key and bookkeeping, for the count limit."""


@dataclass(frozen=True)
class StoreLimits:
    """The memory the store may use, and when it writes ahead of a checkpoint."""

    block_cache_bytes: int = 64 * MIB
    """Block cache shared by every column family (data, index and filter blocks)."""
    write_buffer_bytes: int = 64 * MIB
    """All memtables together; past it RocksDB flushes the largest."""
    memtable_bytes: int = 16 * MIB
    """One memtable of one column family."""
    cached_values: int = 50_000
    """Clean values (or known absences) kept in the store's LRU."""
    cached_bytes: int = 64 * MIB
    """Bytes of clean values kept in the LRU."""
    dirty_values: int = 20_000
    """Changed values held between checkpoints; past it they are spilled ("ahead" state)."""
    dirty_bytes: int = 64 * MIB
    """Bytes of changed values held between checkpoints; past it they are spilled."""
    background_jobs: int = 2
    """RocksDB flush and compaction threads (the workers run on small hosts)."""

    @classmethod
    def within(cls, budget_mb: int) -> StoreLimits:
        """Limits whose caches and buffers together stay within ``budget_mb`` (setting
        ``state_memory_mb``): a quarter each to the block cache, the memtables, the value LRU
        and the changed values held between checkpoints. Each of the four fills up on a big
        tenant, so together they are most of a worker's memory above its idle size."""
        quarter = max(budget_mb * MIB // 4, MIB)
        return cls(
            block_cache_bytes=quarter,
            write_buffer_bytes=quarter,
            memtable_bytes=max(quarter // 4, MIB // 4),
            cached_values=max(quarter // CACHED_VALUE_BYTES, 1_000),
            cached_bytes=quarter,
            dirty_bytes=quarter,
        )

    @property
    def budget_bytes(self) -> int:
        return (
            self.block_cache_bytes + self.write_buffer_bytes + self.cached_bytes + self.dirty_bytes
        )


def _table_options(cache: Cache) -> BlockBasedOptions:
    table = BlockBasedOptions()
    table.set_block_cache(cache)
    table.set_cache_index_and_filter_blocks(True)
    table.set_pin_l0_filter_and_index_blocks_in_cache(True)
    table.set_bloom_filter(10, False)
    table.set_block_size(16 * 1024)
    return table


def _family_options(limits: StoreLimits, cache: Cache) -> Options:
    options = Options(raw_mode=True)
    options.set_block_based_table_factory(_table_options(cache))
    options.set_write_buffer_size(limits.memtable_bytes)
    options.set_max_write_buffer_number(2)
    options.set_compression_type(DBCompressionType.lz4())
    options.set_level_compaction_dynamic_level_bytes(True)
    return options


def db_options(limits: StoreLimits) -> tuple[Options, dict[str, Options]]:
    """Options of the DB and of each column family, sharing one cache and one write buffer
    budget. Raw mode: keys and values are bytes, ordered bytewise."""
    cache = Cache(limits.block_cache_bytes)
    options = _family_options(limits, cache)
    options.create_if_missing(True)
    options.create_missing_column_families(True)
    options.set_write_buffer_manager(WriteBufferManager(limits.write_buffer_bytes, False))
    options.set_max_total_wal_size(limits.write_buffer_bytes)
    options.set_max_background_jobs(limits.background_jobs)
    options.set_wal_recovery_mode(DBRecoveryMode.point_in_time())
    options.set_keep_log_file_num(2)
    options.set_max_open_files(512)
    families = {name: _family_options(limits, cache) for name in COLUMN_FAMILIES}
    return options, families


def write_options() -> WriteOptions:
    """WAL on, no fsync per write: a batch survives a process kill once written; a host crash
    falls back to an earlier whole batch (point-in-time recovery), still a valid restore point."""
    options = WriteOptions()
    options.sync = False
    options.disable_wal = False  # a property at runtime, though rocksdict.pyi shows a method
    return options
