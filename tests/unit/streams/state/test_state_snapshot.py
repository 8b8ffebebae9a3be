"""Snapshot chains on a compacted topic (design state-engine-v2 §6): records and limits, round
trips through base and deltas, incomplete chains, zombie generations, rebase cleanup, and a
property over random histories with random compaction."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.state import StoreLimits
from streams.state.layout import CF_ID, PENDING, decode_seq
from streams.state.snapshot import (
    ChainState,
    RebasePolicy,
    Snapshot,
    StaleGeneration,
    StoreView,
    restore_partition,
    settle,
    write_snapshot,
)
from streams.state.snapshot_records import (
    CHUNK_BYTES,
    ChunkId,
    Link,
    Manifest,
    ManifestId,
    chunk_key,
    decode_manifest,
    encode_manifest,
    entry_size,
    manifest_key,
    pack_chunks,
    parse_key,
    unpack_chunk,
)
from streams.state.store import StateStore
from tests.support.snapshot_topic import SnapshotOwner, SnapshotTopic, State
from tests.support.snapshot_topic import state_of as values_of

SMALL = StoreLimits(block_cache_bytes=1 << 20, write_buffer_bytes=1 << 20, memtable_bytes=1 << 18)
P = 3


def open_store(path: Path) -> StateStore:
    return StateStore(path, SMALL)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with open_store(tmp_path / "source") as opened:
        yield opened


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[StateStore]:
    with open_store(tmp_path / "fresh") as opened:
        yield opened


def state_of(store: StateStore, partition: int = P) -> State:
    return values_of(store, partition)


def pending_of(store: StateStore, partition: int = P) -> dict[bytes, int]:
    return {marker: decode_seq(raw) for marker, raw in store.scan(PENDING, partition)}


def checkpoint(store: StateStore, offset: int, extra: bytes = b"") -> int:
    return store.checkpoint(P, {"deal-events": offset, "kpi-deltas": 2 * offset}, extra)


def ship(
    store: StateStore,
    topic: SnapshotTopic,
    gen: int,
    chain: ChainState,
    policy: RebasePolicy | None = None,
) -> tuple[Snapshot, ChainState]:
    """Snapshot right after a checkpoint, every record acknowledged, then settle and clean."""
    snapshot = write_snapshot(StoreView(store, P), gen, chain, policy or RebasePolicy())
    topic.send(snapshot.records)
    settle(store, P, snapshot.checkpoint_seq)
    topic.send(snapshot.cleanup)
    return snapshot, snapshot.acknowledged


def fill(store: StateStore, round_: int) -> None:
    """Puts across column families and deletes of earlier rounds' keys."""
    for i in range(5):
        store.put("days", P, b"day-%d-%d" % (round_, i), b"v%d" % (round_ * 10 + i))
    store.put("deals", P, b"deal-%d" % round_, b"deal value %d" % round_)
    store.put("carry", P, b"shared", b"carry %d" % round_)
    if round_:
        store.delete("days", P, b"day-%d-0" % (round_ - 1))
        store.delete("deals", P, b"deal-%d" % (round_ - 1))


# -- records -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "named"),
    [
        (b"d/3/17/42/0", ChunkId(3, 17, 42, 0)),
        (b"m/0/5", ManifestId(0, 5)),
        (b"m/0/5/1", None),
        (b"d/1/2/x/0", None),
        (b"other", None),
        (b"", None),
    ],
)
def test_a_topic_key_names_a_chunk_a_manifest_or_nothing(key: bytes, named) -> None:
    assert parse_key(key) == named


@pytest.mark.parametrize(
    "manifest",
    [
        Manifest(1, 1, 1, None, (Link(1, 1, (), 0),), {}),
        Manifest(9, 7, 3, (4, 6), (Link(4, 3, (1, 2), 9), Link(9, 7, (2**32 - 1,), 5)), {"a": 3}),
    ],
)
def test_a_manifest_survives_its_encoding(manifest: Manifest) -> None:
    assert decode_manifest(encode_manifest(manifest)) == manifest


@pytest.mark.parametrize("raw", [b"", b"\x02\x90", b"\x01\xc1", b"\x01\x93\x01\x02\x03"])
def test_manifest_bytes_of_another_format_or_torn_read_as_none(raw: bytes) -> None:
    assert decode_manifest(raw) is None


@pytest.mark.parametrize(
    ("sizes", "limit"),
    [
        ([10] * 1000, 1024),
        ([300, 70_000, 0, 255, 256, 65_535, 65_536], 80_000),
        ([CHUNK_BYTES // 4] * 9, CHUNK_BYTES),
        ([CHUNK_BYTES - 64, CHUNK_BYTES - 64], CHUNK_BYTES),
    ],
)
def test_chunks_keep_every_entry_in_order_within_the_limit(sizes: list[int], limit: int) -> None:
    entries = [(CF_ID["days"], b"k%d" % i, bytes(size)) for i, size in enumerate(sizes)]
    entries.append((CF_ID["deals"], b"gone", None))
    bodies = list(pack_chunks(entries, limit))
    assert [entry for body in bodies for entry in unpack_chunk(body)] == entries
    assert all(len(body) <= limit for body in bodies)


@pytest.mark.parametrize("entry", [(1, b"k", None), (5, b"k" * 300, b"v" * 70_000), (9, b"", b"")])
def test_an_entry_size_is_its_exact_msgpack_size(entry) -> None:
    assert len(next(pack_chunks([entry]))) - 1 == entry_size(entry)


def test_an_entry_larger_than_a_chunk_travels_alone() -> None:
    entries = [(1, b"a", b"x" * 10), (1, b"big", b"y" * 3000), (1, b"c", b"z")]
    bodies = list(pack_chunks(entries, 1024))
    assert [unpack_chunk(body) for body in bodies] == [[entries[0]], [entries[1]], [entries[2]]]


def chain_of(base_size: int, *delta_sizes: int) -> Manifest:
    sizes = (base_size, *delta_sizes)
    links = tuple(Link(1, seq, (0,), size) for seq, size in enumerate(sizes, 1))
    return Manifest(1, len(sizes), 1, None, links, {})


@pytest.mark.parametrize(
    ("chain", "base"),
    [
        (None, True),
        (chain_of(1000), False),
        (chain_of(1000, 400, 600), False),
        (chain_of(1000, 400, 601), True),
        (chain_of(0), False),
        (chain_of(0, 1), True),
        (chain_of(10**9, *[1] * 31), False),
        (chain_of(10**9, *[1] * 32), True),
    ],
)
def test_a_chain_is_rebased_once_its_deltas_outgrow_the_base_or_number_32(chain, base) -> None:
    assert RebasePolicy().wants_base(chain) == base


# -- writing and restoring --------------------------------------------------------------------


def test_base_and_deltas_restore_the_last_snapshotted_checkpoint(store, fresh) -> None:
    topic, chain = SnapshotTopic(), ChainState()
    store.put("customers", P, b"large", bytes(10_000))  # the deltas stay below the base
    for round_ in range(4):
        fill(store, round_)
        checkpoint(store, 10 * round_ + 7, b"stream-times-%d" % round_)
        snapshot, chain = ship(store, topic, 5, chain)
        assert snapshot.is_base == (round_ == 0)
    snapshotted = state_of(store)
    fill(store, 9)
    checkpoint(store, 999)  # not snapshotted: the restore stops before it
    restored = restore_partition(topic.read(), P, fresh)
    assert restored is not None
    assert (restored.generation, restored.seq, restored.offsets) == (5, 4, fresh.offsets(P))
    assert fresh.offsets(P) == {"deal-events": 37, "kpi-deltas": 74}
    assert fresh.meta(P) == b"stream-times-3"
    assert state_of(fresh) == snapshotted
    assert restored.entries >= len(state_of(fresh))
    assert pending_of(fresh) == {}


def test_a_delta_holds_the_value_or_deletion_of_each_pending_key_only(store) -> None:
    topic, chain = SnapshotTopic(), ChainState()
    fill(store, 0)
    checkpoint(store, 1)
    _, chain = ship(store, topic, 1, chain)
    store.put("seen", P, b"s", b"1")
    store.delete("days", P, b"day-0-1")
    checkpoint(store, 2)
    snapshot = write_snapshot(StoreView(store, P), 1, chain)
    chunks = [unpack_chunk(value) for key, value in snapshot.records[:-1]]
    assert {entry for chunk in chunks for entry in chunk} == {
        (CF_ID["seen"], b"s", b"1"),
        (CF_ID["days"], b"day-0-1", None),
    }
    assert snapshot.manifest.parent == (1, 1) and snapshot.manifest.base_seq == 1


@pytest.mark.parametrize("case", ["changed since", "never checkpointed", "no generation"])
def test_a_snapshot_is_refused_off_a_checkpoint_or_without_a_generation(store, case) -> None:
    store.put("days", P, b"k", b"v")
    if case != "never checkpointed":
        checkpoint(store, 1)
    if case == "changed since":
        store.put("days", P, b"k", b"w")
    with pytest.raises(ValueError):
        write_snapshot(StoreView(store, P), -1 if case == "no generation" else 1, ChainState())


def test_settling_keeps_the_markers_of_later_checkpoints(store) -> None:
    store.put("days", P, b"a", b"1")
    store.put("days", P, b"b", b"1")
    first = checkpoint(store, 1)
    store.put("days", P, b"b", b"2")
    store.put("seen", P, b"c", b"2")
    checkpoint(store, 2)
    assert settle(store, P, first) == 1
    assert set(pending_of(store)) == {bytes([CF_ID["days"]]) + b"b", bytes([CF_ID["seen"]]) + b"c"}


def test_a_key_changed_before_the_acknowledgement_goes_in_the_next_delta(store, fresh) -> None:
    topic = SnapshotTopic()
    store.put("days", P, b"k", b"old")
    checkpoint(store, 1)
    snapshot = write_snapshot(StoreView(store, P), 1, ChainState())
    store.put("days", P, b"k", b"new")
    checkpoint(store, 2)
    topic.send(snapshot.records)
    settle(store, P, snapshot.checkpoint_seq)
    assert pending_of(store) == {bytes([CF_ID["days"]]) + b"k": 2}
    checkpoint(store, 3)
    ship(store, topic, 1, snapshot.acknowledged)
    restore_partition(topic.read(), P, fresh)
    assert state_of(fresh) == {("days", b"k"): b"new"}


@pytest.mark.parametrize("batch_bytes", [1, 100, 4 << 20])
def test_a_restore_in_small_batches_writes_the_same_state(store, fresh, batch_bytes) -> None:
    topic, chain = SnapshotTopic(), ChainState()
    for round_ in range(3):
        fill(store, round_)
        checkpoint(store, round_ + 1)
        _, chain = ship(store, topic, 2, chain)
    restored = restore_partition(topic.read(), P, fresh, batch_bytes)
    assert restored is not None and state_of(fresh) == state_of(store)


def test_a_restore_replaces_the_partition_and_leaves_others_alone(store, fresh) -> None:
    topic = SnapshotTopic()
    fill(store, 0)
    checkpoint(store, 4)
    ship(store, topic, 1, ChainState())
    fresh.put("days", P, b"stale", b"x")
    fresh.put("days", P + 1, b"other", b"y")
    fresh.checkpoint(P, {"deal-events": 99})
    fresh.checkpoint(P + 1, {"deal-events": 5})
    restore_partition(topic.read(), P, fresh)
    assert state_of(fresh) == state_of(store)
    assert state_of(fresh, P + 1) == {("days", b"other"): b"y"}
    assert fresh.offsets(P + 1) == {"deal-events": 5}


def test_values_past_one_chunk_split_and_come_back_whole(store, fresh) -> None:
    topic = SnapshotTopic()
    near = CHUNK_BYTES - 64
    store.put("days", P, b"near-1", b"a" * near)
    store.put("days", P, b"near-2", b"b" * near)
    store.put("customers", P, b"over", b"c" * (CHUNK_BYTES + 1))
    for i in range(300):
        store.put("seen", P, b"s%04d" % i, bytes([i % 256]) * 4000)
    checkpoint(store, 1)
    snapshot, _ = ship(store, topic, 1, ChainState())
    chunks = [value for key, value in snapshot.records[:-1]]
    assert len(chunks) == len(snapshot.manifest.links[0].crcs) >= 5
    assert sum(len(body) > CHUNK_BYTES for body in chunks) == 1
    restore_partition(topic.read(), P, fresh)
    assert state_of(fresh) == state_of(store)


# -- incomplete chains, generations, cleanup ---------------------------------------------------


def chains_of_two_generations(store) -> tuple[SnapshotTopic, State, list]:
    """Gen 3 snapshots twice; the source then changes and gen 5 snapshots (records returned
    separately, not sent). Returns the topic, gen 3's last state, gen 5's records."""
    topic, chain = SnapshotTopic(), ChainState()
    for round_ in range(2):
        fill(store, round_)
        checkpoint(store, round_ + 1)
        _, chain = ship(store, topic, 3, chain)
    older = state_of(store)
    fill(store, 2)
    checkpoint(store, 3)
    return topic, older, write_snapshot(StoreView(store, P), 5, chain).records


@pytest.mark.parametrize(
    "damage",
    ["chunk missing", "manifest missing", "chunk corrupted", "manifest unreadable"],
)
def test_an_incomplete_chain_gives_way_to_an_older_generation(store, fresh, damage) -> None:
    topic, older, records = chains_of_two_generations(store)
    if damage == "chunk missing":
        records = records[1:]
    elif damage == "manifest missing":
        records = records[:-1]
    elif damage == "chunk corrupted":
        records = [(records[0][0], records[0][1][:-1] + b"\x00"), *records[1:]]
    else:
        records = [*records[:-1], (records[-1][0], b"\x01garbage")]
    topic.send(records)
    restored = restore_partition(topic.read(), P, fresh)
    assert restored is not None and (restored.generation, restored.seq) == (3, 2)
    assert state_of(fresh) == older and fresh.offsets(P)["deal-events"] == 2


def test_without_a_complete_chain_nothing_is_restored_and_the_store_is_kept(fresh) -> None:
    topic = SnapshotTopic()
    topic.send([(chunk_key(P, 1, 1, 0), b"\x90"), (b"unrelated", b"x")])
    fresh.put("days", P, b"local", b"kept")
    fresh.checkpoint(P, {"deal-events": 8})
    assert restore_partition(topic.read(), P, fresh) is None
    assert state_of(fresh) == {("days", b"local"): b"kept"}


def test_a_zombie_of_a_lower_generation_writing_later_does_not_win(store, fresh, tmp_path) -> None:
    topic, chain = SnapshotTopic(), ChainState()
    fill(store, 0)
    checkpoint(store, 1)
    _, zombie_chain = ship(store, topic, 4, chain)
    with open_store(tmp_path / "owner") as owner:
        restored = restore_partition(topic.read(), P, owner)
        owner.put("days", P, b"owner", b"new")
        checkpoint(owner, 50)
        snapshot, _ = ship(owner, topic, 7, restored.chain)
        assert snapshot.manifest.links[0].gen == 4 and snapshot.manifest.parent == (4, 1)
        owned = state_of(owner)
    fill(store, 1)
    checkpoint(store, 60)
    ship(store, topic, 4, zombie_chain)
    result = restore_partition(topic.read(), P, fresh)
    assert result is not None and result.generation == 7
    assert state_of(fresh) == owned and fresh.offsets(P)["deal-events"] == 50
    with pytest.raises(StaleGeneration):
        write_snapshot(StoreView(store, P), 4, result.chain)


def test_a_rebase_tombstones_the_previous_chain_and_still_restores(store, fresh) -> None:
    topic, chain, policy = SnapshotTopic(), ChainState(), RebasePolicy(max_deltas=2)
    store.put("customers", P, b"large", bytes(10_000))  # only the count of deltas rebases
    bases = []
    for round_ in range(5):
        fill(store, round_)
        checkpoint(store, round_ + 1)
        snapshot, chain = ship(store, topic, 2 if round_ < 2 else 3, chain, policy)
        bases.append(snapshot.is_base)
    assert bases == [True, False, False, True, False]
    topic.compact(drop_tombstones=True)
    assert {parse_key(key).seq for key in topic.live_keys() if key.startswith(b"d/")} == {4, 5}
    assert {key for key in topic.live_keys() if key.startswith(b"m/")} == {manifest_key(P, 3)}
    restore_partition(topic.read(), P, fresh)
    assert state_of(fresh) == state_of(store)


def test_chunks_of_an_abandoned_snapshot_are_tombstoned_after_the_next(store, fresh) -> None:
    topic, chain = SnapshotTopic(), ChainState()
    fill(store, 0)
    checkpoint(store, 1)
    _, chain = ship(store, topic, 1, chain)
    fill(store, 1)
    checkpoint(store, 2)
    failed = write_snapshot(StoreView(store, P), 1, chain)
    topic.send(failed.records[:-1])
    chain = failed.abandoned
    fill(store, 2)
    checkpoint(store, 3)
    snapshot, chain = ship(store, topic, 1, chain)
    assert snapshot.manifest.seq == 3 and [link.seq for link in snapshot.manifest.links] == [1, 3]
    assert {key for key, _ in snapshot.cleanup} == {key for key, _ in failed.records[:-1]}
    topic.compact(drop_tombstones=True)
    restore_partition(topic.read(), P, fresh)
    assert state_of(fresh) == state_of(store)


# -- property ----------------------------------------------------------------------------------

KEYS = st.sampled_from([b"a", b"d\x00", b"e" * 40])
FAMILIES = st.sampled_from(["days", "deals", "keys"])
PUT = st.tuples(st.just("put"), FAMILIES, KEYS, st.binary(max_size=300))
STEP = st.one_of(
    PUT,
    PUT,
    PUT,
    st.tuples(st.just("delete"), FAMILIES, KEYS),
    st.tuples(st.just("spill")),
    st.tuples(st.just("checkpoint")),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("acknowledged")),
    st.tuples(st.just("failed"), st.integers(0, 20)),
    st.tuples(st.just("new generation")),
    st.tuples(st.just("compact"), st.floats(0, 1), st.booleans()),
)


LATE_ACK = [
    ("snapshot",),
    ("put", "days", b"a", b"1"),
    ("checkpoint",),
    ("acknowledged",),
    ("snapshot",),
    ("acknowledged",),
]
"""A key changed between a snapshot and its acknowledgement must reach the next delta."""
DELETED = [
    ("put", "deals", b"a", b"1"),
    ("snapshot",),
    ("acknowledged",),
    ("delete", "deals", b"a"),
    ("snapshot",),
    ("acknowledged",),
]
"""A deletion travels in a delta."""


@settings(max_examples=100, deadline=None)
@given(st.lists(STEP, min_size=15, max_size=60))
@example(steps=LATE_ACK)
@example(steps=DELETED)
def test_any_history_restores_the_state_of_its_last_acknowledged_snapshot(steps) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with open_store(Path(tmp) / "source") as store:
            writer = SnapshotOwner(store, P, RebasePolicy(max_deltas=3, chunk_bytes=400))
            for step in steps:
                writer.run(step)
        with open_store(Path(tmp) / "fresh") as fresh:
            restored = restore_partition(writer.topic.read(), P, fresh)
            if writer.expected is None:
                assert restored is None
            else:
                assert (state_of(fresh), fresh.offsets(P)) == writer.expected
