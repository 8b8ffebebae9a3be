"""What a worker's state holds right now: values and bytes per column family, read live.

``du`` of a data dir says little about the state at bench sizes: RocksDB keeps recent writes in
its write-ahead log until a memtable (64 MiB budget) is flushed, and a deletion adds a tombstone
that frees space only when compaction reaches it. So after retention pruned a day, ``du`` may
even grow. This opens the worker's DB as a RocksDB *secondary* instance (read-only, allowed beside
the running worker, which keeps its lock), catches up with it and counts what is live.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rocksdict import AccessType, Rdict

from streams.state.layout import COLUMN_FAMILIES, META, PENDING
from streams.state.options import StoreLimits, db_options
from streams.state.store import STATE_DIR

BOOKKEEPING = frozenset({META, PENDING})
"""Column families that are not state: checkpoint meta and snapshot markers."""


@dataclass(frozen=True)
class LiveState:
    """Per column family: (values, bytes of keys and values)."""

    families: dict[str, tuple[int, int]]

    @property
    def values(self) -> int:
        return sum(n for name, (n, _) in self.families.items() if name not in BOOKKEEPING)

    @property
    def bytes(self) -> int:
        return sum(b for name, (_, b) in self.families.items() if name not in BOOKKEEPING)

    def count(self, family: str) -> int:
        return self.families.get(family, (0, 0))[0]

    def describe(self) -> str:
        """``days 4,740, deals 4,078, ...``: the state's column families by values, largest
        first."""
        state = [(n, name) for name, (n, _) in self.families.items() if name not in BOOKKEEPING]
        return ", ".join(f"{name} {n:,}" for n, name in sorted(state, reverse=True) if n)


def state_dirs(data_dir: Path) -> list[Path]:
    """The state-v2 DBs under a worker's data dir (one per app id: ``<app_id>/state-v2``)."""
    return sorted(p for p in data_dir.glob(f"*/{STATE_DIR}") if (p / "CURRENT").exists())


def live_state(data_dir: Path) -> LiveState:
    """Values and bytes of every column family of the worker's DB(s), as of now."""
    totals: dict[str, tuple[int, int]] = {}
    for path in state_dirs(data_dir):
        for name, (count, size) in _count(path).items():
            old = totals.get(name, (0, 0))
            totals[name] = (old[0] + count, old[1] + size)
    return LiveState(totals)


def _count(path: Path) -> dict[str, tuple[int, int]]:
    options, families = db_options(StoreLimits())
    scratch = tempfile.mkdtemp(prefix="bench-secondary-")
    db = Rdict(
        str(path),
        options=options,
        column_families=families,
        access_type=AccessType.secondary(scratch),
    )
    try:
        db.try_catch_up_with_primary()
        out = {}
        for name in COLUMN_FAMILIES:
            family = db.get_column_family(name)
            count = size = 0
            for key, value in family.items():
                count += 1
                size += len(key) + len(value)
            out[name] = (count, size)
            del family  # every handle released before close, or RocksDB stays open
        return out
    finally:
        db.close()
        shutil.rmtree(scratch, ignore_errors=True)
