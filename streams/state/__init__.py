"""State engine v2: the worker's partitions' state in one local RocksDB, checkpointed atomically
with the input offsets once per commit (docs/design/state-engine-v2.md)."""

from streams.state.layout import COLUMN_FAMILIES, VALUE_FAMILIES, MetaRecord
from streams.state.options import StoreLimits
from streams.state.partition import PartitionStore
from streams.state.store import StateStore, open_store

__all__ = [
    "COLUMN_FAMILIES",
    "VALUE_FAMILIES",
    "MetaRecord",
    "PartitionStore",
    "StateStore",
    "StoreLimits",
    "open_store",
]
