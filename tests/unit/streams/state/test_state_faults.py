"""The test-only crash points (``streams.state.faults``): the setting, the switch, where the
store and the commit hook reach them, and what a process killed there leaves in its DB."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from faust.types import TP
from pydantic import ValidationError

from events.settings import FAULT_POINTS, Settings
from streams.faust_ext.checkpointed_offsets import CheckpointedOffsets
from streams.state import StateStore
from streams.state import faults as faults_module
from streams.state.engine import StateEngine
from streams.state.faults import (
    AFTER_CHECKPOINT_WRITE,
    BEFORE_CHECKPOINT_WRITE,
    IN_SPILL,
    NO_FAULTS,
    FaultSwitch,
    KillSwitch,
    kill_switch,
)
from tests.support import state_store_writer as writer

REPO = Path(__file__).resolve().parents[4]
KEYS = 200
"""Values per checkpoint of the child writer: small, the batches' content is what counts."""
WELL_FORMED = [f"{point}:{n}" for point in FAULT_POINTS for n in (1, 3, 250)]
MALFORMED = [
    "in-spill",
    "in-spill:",
    "in-spill:0",
    "in-spill:-1",
    "in-spill:x",
    "in-spill:1:2",
    "in_spill:1",
    "after-commit:1",
    " in-spill:1",
    "IN-SPILL:1",
]

# -- the setting and the switch --------------------------------------------------------------


@pytest.fixture
def no_fault_env(monkeypatch):
    monkeypatch.delenv("SALESPULSE_FAULT_KILL_AT", raising=False)
    return monkeypatch


def test_faults_are_off_unless_the_setting_names_a_point(no_fault_env) -> None:
    settings = Settings(_env_file=None)
    assert settings.fault_kill_at == ""
    assert kill_switch(settings.fault_kill_at) is NO_FAULTS


@pytest.mark.parametrize("spec", WELL_FORMED)
def test_a_point_and_a_count_are_read_from_the_environment(no_fault_env, spec) -> None:
    no_fault_env.setenv("SALESPULSE_FAULT_KILL_AT", spec)
    settings = Settings(_env_file=None)
    switch = kill_switch(settings.fault_kill_at)
    assert isinstance(switch, KillSwitch)
    assert f"{switch.point}:{switch.at}" == spec


@pytest.mark.parametrize("spec", MALFORMED)
def test_a_malformed_fault_is_refused_by_the_setting_and_by_the_switch(no_fault_env, spec) -> None:
    no_fault_env.setenv("SALESPULSE_FAULT_KILL_AT", spec)
    with pytest.raises(ValidationError, match="fault_kill_at"):
        Settings(_env_file=None)
    with pytest.raises(ValueError, match="fault_kill_at"):
        kill_switch(spec)


def test_a_switch_built_by_hand_refuses_unknown_points_and_counts_below_one() -> None:
    with pytest.raises(ValueError, match="unknown fault point"):
        KillSwitch("after-commit", 1)
    with pytest.raises(ValueError, match="1st time or later"):
        KillSwitch(IN_SPILL, 0)


def test_the_switch_kills_only_at_the_nth_time_its_own_point_is_reached(monkeypatch) -> None:
    kills: list[tuple[int, int]] = []
    monkeypatch.setattr(faults_module.os, "kill", lambda pid, sig: kills.append((pid, sig)))
    monkeypatch.setattr(faults_module.os, "getpid", lambda: 4242)
    switch = KillSwitch(AFTER_CHECKPOINT_WRITE, 3)
    for _ in range(5):
        switch.reached(BEFORE_CHECKPOINT_WRITE)
        switch.reached(IN_SPILL)
    switch.reached(AFTER_CHECKPOINT_WRITE)
    switch.reached(AFTER_CHECKPOINT_WRITE)
    assert kills == []
    switch.reached(AFTER_CHECKPOINT_WRITE)
    assert kills == [(4242, signal.SIGKILL)]
    switch.reached(AFTER_CHECKPOINT_WRITE)
    assert (switch.count, kills) == (4, [(4242, signal.SIGKILL)])


# -- where the points are reached ------------------------------------------------------------


class Recorder(FaultSwitch):
    """Records each point reached with the checkpoint offsets stored at that moment."""

    def __init__(self) -> None:
        self.store: StateStore | None = None
        self.seen: list[tuple[str, dict[str, int], bytes | None]] = []

    def reached(self, point: str) -> None:
        assert self.store is not None
        stored = self.store.get("seen", 0, b"id-1")
        self.seen.append((point, self.store.offsets(0), stored))


class FakeKafkaCommit:
    """Faust's consumer below the hook: the Kafka commit, recorded."""

    def __init__(self, engine: StateEngine) -> None:
        self.app = SimpleNamespace(state_engine=engine, consumer_generation_id=1)
        self.kafka_commits: list[dict] = []

    def assignment(self) -> set:
        return {TP("calls", 0)}

    async def _commit(self, offsets) -> bool:
        self.kafka_commits.append(dict(offsets))
        return True


class HookedConsumer(CheckpointedOffsets, FakeKafkaCommit):
    pass


def test_a_commit_reaches_one_point_before_the_checkpoint_batch_and_one_after(tmp_path) -> None:
    engine = StateEngine("rocksdb://", tmp_path, "kpi")
    recorder = Recorder()
    engine.faults = recorder
    recorder.store = engine.store
    engine.table("seen", 0)["id-1"] = 5
    consumer = HookedConsumer(engine)
    try:
        asyncio.run(consumer._commit({TP("calls", 0): 9}))
        assert [(point, offsets) for point, offsets, _ in recorder.seen] == [
            (BEFORE_CHECKPOINT_WRITE, {}),
            (AFTER_CHECKPOINT_WRITE, {"calls": 9}),
        ]
        assert consumer.kafka_commits == [{TP("calls", 0): 9}]
    finally:
        engine.close()


def test_a_spill_reaches_its_point_once_its_batch_is_written_and_a_checkpoint_does_not(
    tmp_path,
) -> None:
    recorder = Recorder()
    with StateStore(tmp_path / "db", faults=recorder) as store:
        recorder.store = store
        store.put("seen", 0, b"id-1", b"one")
        store.checkpoint(0, {"calls": 1})
        store.put("seen", 0, b"id-1", b"two")
        store.spill(0)
        store.spill(0)  # nothing dirty: no batch, no point
    assert recorder.seen == [(IN_SPILL, {"calls": 1}, b"two")]


def test_an_engine_hands_the_switch_its_setting_names_to_its_store(tmp_path) -> None:
    engine = StateEngine("rocksdb://", tmp_path, "kpi", fault_kill_at="in-spill:2")
    plain = StateEngine("rocksdb://", tmp_path / "plain", "kpi")
    try:
        assert engine.store.faults is engine.faults
        assert (engine.faults.point, engine.faults.at) == (IN_SPILL, 2)
        assert plain.store.faults is NO_FAULTS
    finally:
        engine.close()
        plain.close()


# -- a process killed at a point: what its DB holds ------------------------------------------


def run_until_killed(path: Path, spec: str) -> list[int]:
    """Run the faulty writer until its switch kills it; the checkpoints it reported."""
    child = subprocess.run(
        [sys.executable, "-m", "tests.support.faulty_state_writer", str(path), spec, str(KEYS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    return [int(line) for line in child.stdout.split()]


def durable_values(last: int, ahead: bool) -> dict[bytes, bytes]:
    """Exactly what the DB holds after whole checkpoints 1..last, plus the spilled first half
    of checkpoint last + 1 when ``ahead``."""
    values = {
        writer.value_key(k, i): writer.value_of(k, i)
        for k in range(1, last + 1)
        for i in range(0 if k == last else 1, KEYS)
    }
    values[writer.LATEST] = last.to_bytes(4, "big")
    if ahead:
        values.update(
            {writer.value_key(last + 1, i): writer.value_of(last + 1, i) for i in range(KEYS // 2)}
        )
    return values


@pytest.mark.parametrize(
    ("spec", "reported", "last", "ahead"),
    [
        ("before-checkpoint-write:2", 1, 1, False),
        ("before-checkpoint-write:3", 2, 2, True),
        ("after-checkpoint-write:2", 1, 2, False),
        ("in-spill:1", 2, 2, True),
        ("in-spill:2", 5, 5, True),
    ],
)
def test_a_writer_killed_at_a_fault_point_reopens_to_whole_batches_and_nothing_else(
    tmp_path, spec, reported, last, ahead
) -> None:
    path = tmp_path / "db"
    assert run_until_killed(path, spec) == list(range(1, reported + 1))
    with StateStore(path) as store:
        assert store.checkpoint_seq(writer.PARTITION) == last
        assert store.offsets(writer.PARTITION) == {"in": last}
        assert store.meta(writer.PARTITION) == str(last).encode()
        assert dict(store.scan(writer.CF, writer.PARTITION)) == durable_values(last, ahead)
