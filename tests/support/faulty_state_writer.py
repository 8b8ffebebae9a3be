"""A state store writer with a fault switch: it kills itself at a crash point, as a worker would.

It writes the checkpoints of ``tests.support.state_store_writer`` (checkpoint k: ``keys`` values,
``latest`` = k, value (k - 1, 0) deleted, offsets ``{"in": k}``; every third one spills its first
half first) and reaches the commit hook's points around each checkpoint batch the way
``CheckpointedOffsets._commit`` does: ``before-checkpoint-write`` once checkpoint k's values are
in the dirty map, ``after-checkpoint-write`` once its batch is written. The store itself reaches
``in-spill``. After each checkpoint it prints k.

Run: ``python -m tests.support.faulty_state_writer <db path> <point>:<n> [keys per checkpoint]``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from streams.state import StateStore
from streams.state.faults import (
    AFTER_CHECKPOINT_WRITE,
    BEFORE_CHECKPOINT_WRITE,
    kill_switch,
)
from tests.support import state_store_writer as writer


class CommitHookStore(StateStore):
    """A store whose checkpoint reaches the commit hook's crash points around its batch."""

    def checkpoint(self, partition: int, offsets: Mapping[str, int], meta: bytes = b"") -> int:
        """``CheckpointedOffsets._commit``'s order: crash point, batch, crash point."""
        self.faults.reached(BEFORE_CHECKPOINT_WRITE)
        seq = super().checkpoint(partition, offsets, meta)
        self.faults.reached(AFTER_CHECKPOINT_WRITE)
        return seq


def main(argv: list[str]) -> None:
    """Checkpoint until the switch kills this process, reporting each checkpoint on stdout."""
    keys = int(argv[3]) if len(argv) > 3 else writer.KEYS
    store = CommitHookStore(Path(argv[1]), faults=kill_switch(argv[2]))
    k = store.checkpoint_seq(writer.PARTITION)
    while True:
        k += 1
        writer.write_checkpoint(store, k, keys)
        print(k, flush=True)


if __name__ == "__main__":
    main(sys.argv)
