"""A process that checkpoints a state store in a loop until it is killed
(tests/unit/streams/state/test_state_store_crash.py kills it with SIGKILL at a random moment and
checks what reopens).

Checkpoint k (k = 1, 2, ...) of partition 0 writes ``KEYS`` values named (k, i), sets ``latest``
to k, deletes value (k - 1, 0), and stores offsets ``{"in": k}``. Every third checkpoint spills
its first half before the rest (ahead state, no meta). After each checkpoint it prints k.

Run: ``python -m tests.support.state_store_writer <db path> [keys per checkpoint]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streams.state import StateStore

CF = "days"
PARTITION = 0
KEYS = 2000
LATEST = b"latest"
VALUE_BYTES = 1000


def value_key(k: int, i: int) -> bytes:
    """Key of value i of checkpoint k."""
    return b"v" + k.to_bytes(4, "big") + i.to_bytes(2, "big")


def value_of(k: int, i: int) -> bytes:
    """Value i of checkpoint k: names itself, so a torn or misplaced value is seen."""
    head = k.to_bytes(4, "big") + i.to_bytes(2, "big")
    return head + bytes([k % 251]) * (VALUE_BYTES - len(head))


def spills(k: int) -> bool:
    """Whether checkpoint k spills its first half before the rest."""
    return k % 3 == 0


def write_checkpoint(store: StateStore, k: int, keys: int) -> None:
    """Checkpoint k as the module docstring describes."""
    for i in range(keys):
        if spills(k) and i == keys // 2:
            store.spill(PARTITION)
        store.put(CF, PARTITION, value_key(k, i), value_of(k, i))
    store.put(CF, PARTITION, LATEST, k.to_bytes(4, "big"))
    if k > 1:
        store.delete(CF, PARTITION, value_key(k - 1, 0))
    store.checkpoint(PARTITION, {"in": k}, str(k).encode())


def main(argv: list[str]) -> None:
    """Checkpoint forever (until killed), reporting each finished checkpoint on stdout."""
    keys = int(argv[2]) if len(argv) > 2 else KEYS
    store = StateStore(Path(argv[1]))
    k = store.checkpoint_seq(PARTITION)
    while True:
        k += 1
        write_checkpoint(store, k, keys)
        print(k, flush=True)


if __name__ == "__main__":
    main(sys.argv)
