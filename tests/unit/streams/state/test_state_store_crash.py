"""What a state store holds after any history: a model dict for every interleaving of writes,
checkpoints, spills, drops and reopens, and whole checkpoints after a writer is killed with
SIGKILL at a random moment of its checkpoint loop."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.state import StateStore, StoreLimits
from tests.support import state_store_writer as writer

REPO = Path(__file__).resolve().parents[4]
SMALL = StoreLimits(block_cache_bytes=4 << 20, write_buffer_bytes=4 << 20, memtable_bytes=1 << 20)
MODEL_LIMITS = StoreLimits(cached_values=4, dirty_values=5, memtable_bytes=1 << 20)
PARTITIONS = (0, 1, 2)

# -- the model: any interleaving reads like a dict, a reopen like its durable part ---------

OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.sampled_from(PARTITIONS),
            st.binary(max_size=3),
            st.binary(max_size=8),
        ),
        st.tuples(st.just("delete"), st.sampled_from(PARTITIONS), st.binary(max_size=3)),
        st.tuples(
            st.sampled_from(["checkpoint", "spill", "drop", "reopen"]), st.sampled_from(PARTITIONS)
        ),
    ),
    max_size=40,
)


class Model:
    """The values a store must show now (``live``) and after a reopen (``durable``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = StateStore(path, MODEL_LIMITS)
        self.live: dict[int, dict[bytes, bytes]] = {p: {} for p in PARTITIONS}
        self.durable: dict[int, dict[bytes, bytes]] = {p: {} for p in PARTITIONS}
        self.seq = dict.fromkeys(PARTITIONS, 0)

    def apply(self, op: tuple) -> None:
        kind, partition = op[0], op[1]
        getattr(self, kind)(partition, *op[2:])

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        self.store.put("seen", partition, key, value)
        self.live[partition][key] = value
        self._after_change()

    def delete(self, partition: int, key: bytes) -> None:
        self.store.delete("seen", partition, key)
        self.live[partition].pop(key, None)
        self._after_change()

    def _after_change(self) -> None:
        if self.store.dirty_values == 0:  # the bound was passed: every partition spilled
            self.durable = {p: dict(values) for p, values in self.live.items()}

    def checkpoint(self, partition: int) -> None:
        self.seq[partition] = self.store.checkpoint(partition, {"in": self.seq[partition] + 1})
        self.durable[partition] = dict(self.live[partition])

    def spill(self, partition: int) -> None:
        self.store.spill(partition)
        self.durable[partition] = dict(self.live[partition])

    def drop(self, partition: int) -> None:
        self.store.drop_partition(partition)
        self.live[partition], self.durable[partition] = {}, {}
        self.seq[partition] = 0

    def reopen(self, _partition: int) -> None:
        self.store.close()
        self.store = StateStore(self.path, MODEL_LIMITS)
        self.live = {p: dict(values) for p, values in self.durable.items()}

    def check(self) -> None:
        for partition, values in self.live.items():
            assert dict(self.store.scan("seen", partition)) == values
            assert all(self.store.get("seen", partition, k) == v for k, v in values.items())
            assert self.store.checkpoint_seq(partition) == self.seq[partition]
            expected_offsets = {"in": self.seq[partition]} if self.seq[partition] else {}
            assert self.store.offsets(partition) == expected_offsets


@settings(max_examples=100, deadline=None)
@given(OPS)
def test_any_history_reads_like_a_dict_and_reopens_to_what_was_written(ops) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model = Model(Path(tmp))
        try:
            for op in ops:
                model.apply(op)
            model.check()
        finally:
            model.store.close()


# -- kill -9 in a checkpoint loop ----------------------------------------------------------


def run_writer_until_killed(path: Path, rng: random.Random) -> None:
    """Start the writer, let it finish a few checkpoints, SIGKILL it at a random moment."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.state_store_writer", str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        done = int(child.stdout.readline())
        wanted = done + rng.randint(0, 4)
        while done < wanted:
            done = int(child.stdout.readline())
        time.sleep(rng.uniform(0, 0.08))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()


def assert_whole_checkpoints(path: Path) -> int:
    """Reopen: checkpoints up to the stored offset are whole, later ones absent (except the
    spilled first half of the next one); returns that offset."""
    with StateStore(path, SMALL) as store:
        last = store.offsets(writer.PARTITION)["in"]
        stored = dict(store.scan(writer.CF, writer.PARTITION))
        assert (store.checkpoint_seq(writer.PARTITION), store.meta(writer.PARTITION)) == (
            last,
            str(last).encode(),
        )
    assert stored.pop(writer.LATEST) == last.to_bytes(4, "big")
    expected = {
        writer.value_key(k, i): writer.value_of(k, i)
        for k in range(1, last + 1)
        for i in range(0 if k == last else 1, writer.KEYS)
    }
    ahead = {k: v for k, v in stored.items() if k not in expected}
    assert {k: v for k, v in stored.items() if k in expected} == expected
    allowed = {
        writer.value_key(last + 1, i): writer.value_of(last + 1, i)
        for i in range(writer.KEYS // 2 if writer.spills(last + 1) else 0)
    }
    assert ahead.keys() <= allowed.keys()
    assert all(allowed[k] == v for k, v in ahead.items())
    return last


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_writer_killed_mid_checkpoint_reopens_to_whole_checkpoints(tmp_path, seed) -> None:
    rng = random.Random(seed)
    path = tmp_path / "db"
    reached = [0]
    for _ in range(3):
        run_writer_until_killed(path, rng)
        reached.append(assert_whole_checkpoints(path))
    assert reached == sorted(set(reached))
