"""The local state store: reads see every layer, a checkpoint is one whole batch with its offsets,
spills are ahead state, bounds hold, partitions stay apart and scans follow numeric order (kill -9
and the model test: test_state_store_crash.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.state import StateStore, StoreLimits, open_store
from streams.state.cache import ABSENT, ValueCache
from streams.state.layout import (
    MetaRecord,
    decode_meta,
    decode_seq,
    encode_meta,
    partition_prefix,
    pending_key,
    prefix_end,
    split_pending_key,
)

SMALL = StoreLimits(block_cache_bytes=4 << 20, write_buffer_bytes=4 << 20, memtable_bytes=1 << 20)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db"


@pytest.fixture
def store(db_path: Path):
    with StateStore(db_path, SMALL) as opened:
        yield opened


def day_key(day: int) -> bytes:
    return day.to_bytes(4, "big")


# -- layout --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        MetaRecord(),
        MetaRecord(seq=1, offsets={"deal-events": 0}),
        MetaRecord(seq=2**63, offsets={"a": -1, "b": 2**62, "é": 7}, extra=b"\x00stream"),
    ],
)
def test_a_meta_record_survives_its_encoding(record: MetaRecord) -> None:
    assert decode_meta(encode_meta(record)) == record


def test_a_meta_record_of_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        decode_meta(b"\x09" + encode_meta(MetaRecord())[1:])


@pytest.mark.parametrize(
    ("prefix", "end"),
    [(b"\x00\x01", b"\x00\x02"), (b"\x00\xff", b"\x01"), (b"a\xff\xff", b"b"), (b"\xff", None)],
)
def test_a_prefix_ends_at_the_next_key_above_all_its_extensions(prefix, end) -> None:
    assert prefix_end(prefix) == end


@pytest.mark.parametrize("partition", [-1, 0xFFFF, 70_000])
def test_a_partition_outside_sixteen_bits_minus_one_is_refused(partition: int) -> None:
    with pytest.raises(ValueError, match="partition"):
        partition_prefix(partition)


@pytest.mark.parametrize("cf", ["deals", "days", "carry", "seen"])
def test_a_pending_marker_names_its_column_family_and_key(cf: str) -> None:
    assert split_pending_key(pending_key(cf, b"k\x00y")) == (cf, b"k\x00y")


# -- reads through every layer -------------------------------------------------------------


@pytest.mark.parametrize("layer", ["dirty map", "lru", "rocksdb", "reopened"])
def test_a_value_reads_back_from_every_layer(db_path: Path, layer: str) -> None:
    store = StateStore(db_path, SMALL)
    store.put("deals", 2, b"deal-1", b"v1")
    if layer != "dirty map":
        store.checkpoint(2, {"deal-events": 5})
    if layer == "rocksdb":
        store.cache.forget(("deals", 2, b"deal-1"))
    if layer == "reopened":
        store.close()
        store = StateStore(db_path, SMALL)
    assert store.get("deals", 2, b"deal-1") == b"v1"
    assert store.get("deals", 3, b"deal-1") is None
    store.close()


@pytest.mark.parametrize("checkpointed", [False, True])
def test_a_deletion_hides_the_value_at_once_and_after_its_checkpoint(store, checkpointed) -> None:
    store.put("carry", 0, b"team|t1", b"c")
    store.checkpoint(0, {"kpi-deltas": 1})
    store.delete("carry", 0, b"team|t1")
    if checkpointed:
        store.checkpoint(0, {"kpi-deltas": 2})
    assert store.get("carry", 0, b"team|t1") is None


def test_a_known_absence_is_cached_and_replaced_by_a_put(store) -> None:
    assert store.get("seen", 1, b"e-1") is None
    assert store.cache.lookup(("seen", 1, b"e-1")) is None
    store.put("seen", 1, b"e-1", b"1")
    assert store.cache.lookup(("seen", 1, b"e-1")) is ABSENT
    assert store.get("seen", 1, b"e-1") == b"1"


@pytest.mark.parametrize(("cf", "value"), [("meta", b"x"), ("pending", b"x"), ("nope", b"x")])
def test_only_value_column_families_take_agent_writes(store, cf: str, value: bytes) -> None:
    with pytest.raises(ValueError, match="column family"):
        store.put(cf, 0, b"k", value)


def test_a_value_must_be_bytes(store) -> None:
    with pytest.raises(TypeError, match="bytes"):
        store.put("days", 0, b"k", "text")  # type: ignore[arg-type]


# -- checkpoints ---------------------------------------------------------------------------


def test_a_checkpoint_writes_values_markers_and_offsets_in_one_batch(db_path: Path) -> None:
    with StateStore(db_path, SMALL) as store:
        store.put("days", 4, b"a", b"1")
        store.put("deals", 4, b"d", b"2")
        store.checkpoint(4, {"deal-events": 10, "call-events": 3}, b"st")
        store.put("days", 4, b"b", b"3")
        store.delete("deals", 4, b"d")
        seq = store.checkpoint(4, {"deal-events": 12, "call-events": 3}, b"st2")
    with StateStore(db_path, SMALL) as reopened:
        assert seq == reopened.checkpoint_seq(4) == 2
        assert reopened.offsets(4) == {"deal-events": 12, "call-events": 3}
        assert reopened.meta(4) == b"st2"
        assert list(reopened.scan("days", 4)) == [(b"a", b"1"), (b"b", b"3")]
        assert reopened.get("deals", 4, b"d") is None
        markers = {key: decode_seq(v) for key, v in reopened.scan("pending", 4)}
    assert markers == {
        pending_key("days", b"a"): 1,
        pending_key("deals", b"d"): 2,
        pending_key("days", b"b"): 2,
    }


def test_changes_after_the_last_checkpoint_are_gone_after_a_reopen(db_path: Path) -> None:
    with StateStore(db_path, SMALL) as store:
        store.put("days", 0, b"a", b"1")
        store.checkpoint(0, {"in": 1})
        store.put("days", 0, b"a", b"2")
        store.put("days", 0, b"b", b"2")
    with StateStore(db_path, SMALL) as reopened:
        assert reopened.offsets(0) == {"in": 1}
        assert list(reopened.scan("days", 0)) == [(b"a", b"1")]


def test_a_partition_never_checkpointed_has_no_offsets_and_no_meta(store) -> None:
    assert (store.offsets(9), store.meta(9), store.checkpoint_seq(9)) == ({}, None, 0)


class FailingWrites:
    """A DB whose batch writes fail (a full disk), everything else passed through."""

    def __init__(self, db) -> None:
        self.db = db

    def write(self, batch, options) -> None:
        raise OSError("no space left on device")

    def __getattr__(self, name):
        return getattr(self.db, name)


def test_a_failed_checkpoint_keeps_its_changes_for_the_next_one(store) -> None:
    store.put("days", 1, b"a", b"1")
    real, store._db = store._db, FailingWrites(store._db)
    with pytest.raises(OSError, match="space"):
        store.checkpoint(1, {"in": 5})
    store._db = real
    assert (store.get("days", 1, b"a"), store.checkpoint_seq(1), store.dirty_values) == (
        b"1",
        0,
        1,
    )
    store.checkpoint(1, {"in": 5})
    assert (store.offsets(1), store.dirty_values) == ({"in": 5}, 0)


# -- spills --------------------------------------------------------------------------------


def test_a_spill_stores_values_and_markers_ahead_of_the_offsets(db_path: Path) -> None:
    limits = StoreLimits(dirty_values=50, memtable_bytes=1 << 20)
    with StateStore(db_path, limits) as store:
        store.put("days", 0, b"first", b"0")
        store.checkpoint(0, {"in": 1})
        for i in range(51):
            store.put("days", 0, b"k%03d" % i, b"v")
        assert store.dirty_values == 0
        store.put("days", 0, b"late", b"x")
    with StateStore(db_path, limits) as reopened:
        assert reopened.offsets(0) == {"in": 1}
        assert len(list(reopened.scan_prefix("days", 0, b"k"))) == 51
        assert reopened.get("days", 0, b"late") is None
        assert {decode_seq(v) for _, v in reopened.scan_prefix("pending", 0, b"\x05k")} == {2}


def test_a_checkpoint_after_a_spill_holds_both_parts(db_path: Path) -> None:
    with StateStore(db_path, SMALL) as store:
        store.put("deals", 3, b"a", b"1")
        assert store.spill(3) == 1
        assert store.spill(3) == 0
        store.put("deals", 3, b"b", b"2")
        store.checkpoint(3, {"in": 9}, b"m")
    with StateStore(db_path, SMALL) as reopened:
        assert list(reopened.scan("deals", 3)) == [(b"a", b"1"), (b"b", b"2")]
        assert (reopened.offsets(3), reopened.checkpoint_seq(3)) == ({"in": 9}, 1)


@pytest.mark.parametrize("value_bytes", [10, 1000])
def test_the_dirty_bound_holds_by_count_and_by_bytes(tmp_path, value_bytes: int) -> None:
    limits = StoreLimits(dirty_values=100, dirty_bytes=20_000, memtable_bytes=1 << 20)
    with StateStore(tmp_path / "db", limits) as store:
        for i in range(1000):
            store.put("days", i % 3, i.to_bytes(4, "big"), b"x" * value_bytes)
            assert store.dirty_values <= 100
            assert store.dirty_bytes <= 20_000


# -- the LRU -------------------------------------------------------------------------------


@pytest.mark.parametrize(("entries", "size"), [(10, 1 << 20), (1000, 500), (0, 100)])
def test_the_lru_stays_within_its_entry_and_byte_bounds(entries: int, size: int) -> None:
    cache = ValueCache(entries, size)
    for i in range(3000):
        cache.remember(("days", i % 4, b"%d" % i), None if i % 7 == 0 else b"x" * (i % 50))
        assert len(cache) <= entries
        assert cache.size_bytes <= size


def test_the_lru_evicts_the_least_recently_used_value() -> None:
    cache = ValueCache(2, 1000)
    cache.remember(("days", 0, b"a"), b"1")
    cache.remember(("days", 0, b"b"), b"2")
    cache.lookup(("days", 0, b"a"))
    cache.remember(("days", 0, b"c"), b"3")
    assert [cache.lookup(("days", 0, k)) for k in (b"a", b"b", b"c")] == [b"1", ABSENT, b"3"]


def test_the_store_lru_stays_bounded_while_reading_many_keys(tmp_path) -> None:
    limits = StoreLimits(cached_values=64, memtable_bytes=1 << 20)
    with StateStore(tmp_path / "db", limits) as store:
        for i in range(500):
            store.put("deals", 0, b"%d" % i, b"v")
        store.checkpoint(0, {"in": 1})
        assert [store.get("deals", 0, b"%d" % i) for i in range(500)] == [b"v"] * 500
        assert len(store.cache) == 64


# -- partitions and scans ------------------------------------------------------------------


def fill(store: StateStore, partition: int) -> None:
    for cf in ("deals", "days", "seen"):
        store.put(cf, partition, b"key", b"%s-%d" % (cf.encode(), partition))
    store.checkpoint(partition, {"in": partition})


@pytest.mark.parametrize("dropped", [0, 1, 2])
def test_dropping_a_partition_leaves_the_others_intact(db_path: Path, dropped: int) -> None:
    with StateStore(db_path, SMALL) as store:
        for partition in (0, 1, 2):
            fill(store, partition)
        store.put("days", dropped, b"unsaved", b"x")
        store.get("deals", dropped, b"key")
        store.drop_partition(dropped)
        assert store.get("days", dropped, b"unsaved") is None
        assert store.get("deals", dropped, b"key") is None
        assert store.dirty_values == 0
    with StateStore(db_path, SMALL) as reopened:
        kept = [p for p in (0, 1, 2) if p != dropped]
        assert reopened.stored_partitions() == kept
        assert reopened.offsets(dropped) == {}
        assert list(reopened.scan("pending", dropped)) == []
        for partition in kept:
            assert reopened.offsets(partition) == {"in": partition}
            assert reopened.get("seen", partition, b"key") == b"seen-%d" % partition


def test_a_range_scan_follows_numeric_order_of_big_endian_days(store) -> None:
    days = [5, 255, 256, 1, 65_536, 20_000, 99]
    for day in days:
        store.put("day_ix", 7, day_key(day) + b"team|t", b"")
    store.checkpoint(7, {"in": 1})
    below = [int.from_bytes(k[:4], "big") for k, _ in store.scan("day_ix", 7, upper=day_key(256))]
    assert below == [1, 5, 99, 255]


def test_a_scan_sees_uncheckpointed_puts_and_deletions(store) -> None:
    for day in (1, 2, 3, 4):
        store.put("days", 0, b"s\x00" + day_key(day), b"%d" % day)
    store.checkpoint(0, {"in": 1})
    store.delete("days", 0, b"s\x00" + day_key(2))
    store.put("days", 0, b"s\x00" + day_key(3), b"three")
    store.put("days", 0, b"s\x00" + day_key(5), b"5")
    store.put("days", 0, b"t\x00" + day_key(1), b"other scope")
    store.put("days", 1, b"s\x00" + day_key(6), b"other partition")
    assert [v for _, v in store.scan_prefix("days", 0, b"s\x00")] == [b"1", b"three", b"4", b"5"]


@pytest.mark.parametrize("partition", [0, 1, 255, 256, 0xFFFE])
def test_a_scan_stays_inside_its_partition(store, partition: int) -> None:
    for neighbour in {max(partition - 1, 0), partition, min(partition + 1, 0xFFFE)}:
        store.put("carry", neighbour, b"\xff\xff", b"%d" % neighbour)
        store.put("carry", neighbour, b"", b"%d" % neighbour)
        store.checkpoint(neighbour, {})
    assert list(store.scan("carry", partition)) == [
        (b"", b"%d" % partition),
        (b"\xff\xff", b"%d" % partition),
    ]


# -- store URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "kept"), [("rocksdb://", True), ("memory://", False)])
def test_memory_store_starts_empty_and_rocksdb_store_keeps_its_state(tmp_path, url, kept) -> None:
    with open_store(url, tmp_path, SMALL) as store:
        store.put("deals", 0, b"d", b"1")
        store.checkpoint(0, {"in": 3})
    with open_store(url, tmp_path, SMALL) as reopened:
        assert (reopened.get("deals", 0, b"d") == b"1") is kept
        assert reopened.offsets(0) == ({"in": 3} if kept else {})


def test_an_unknown_store_url_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="URL"):
        open_store("redis://", tmp_path)
