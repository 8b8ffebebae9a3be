"""A table sends each changed key's latest value once per flush, and the flush before a commit
sends them all."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from streams.durable_commit import DrainingProducerBuffer
from streams.routing import RoutedTable
from streams.write_behind import MAX_UNSENT_KEYS, WriteBehindChangelog, send_unsent_table_writes


class RecordingTable(WriteBehindChangelog):
    """The parts of a Faust table the mixin relies on, recording changelog sends."""

    def __init__(self) -> None:
        self.data: dict = {}
        self.sent: list = []

    # In this order, as mode's ManagedUserDict (Faust's Table) does: the hook runs first.
    def __setitem__(self, key, value) -> None:
        self.on_key_set(key, value)
        self.data[key] = value

    def __delitem__(self, key) -> None:
        self.on_key_del(key)
        del self.data[key]

    def partition_for_key(self, key) -> int:
        return len(key) % 4

    def send_changelog(self, partition, key, value, value_serializer=None) -> None:
        self.sent.append((partition, key, value))

    def _sensor_on_set(self, table, key, value) -> None:
        pass

    def _sensor_on_del(self, table, key) -> None:
        pass


def changes(table: RecordingTable, steps: list) -> list:
    for op, key, *value in steps:
        if op == "set":
            table[key] = value[0]
        else:
            del table[key]
    table.send_unsent()
    return table.sent


@pytest.mark.parametrize(
    ("steps", "records"),
    [
        ([], []),
        ([("set", "rep-1", 1)], [(1, "rep-1", 1)]),
        ([("set", "rep-1", 1), ("set", "rep-1", 2), ("set", "rep-1", 3)], [(1, "rep-1", 3)]),
        ([("set", "a", 1), ("set", "bb", 2), ("set", "a", 5)], [(1, "a", 5), (2, "bb", 2)]),
        ([("set", "deal", 1), ("del", "deal")], [(0, "deal", None)]),
        ([("set", "deal", 1), ("del", "deal"), ("set", "deal", 7)], [(0, "deal", 7)]),
    ],
    ids=[
        "nothing changed, nothing sent",
        "one write, one record",
        "three writes to a key, one record with the last value",
        "each changed key once, in first-change order",
        "a deleted key, a tombstone",
        "set again after a delete, the value",
    ],
)
def test_a_flush_sends_each_changed_key_once_with_its_latest_value(steps, records):
    assert changes(RecordingTable(), steps) == records


def test_a_second_flush_sends_only_what_changed_since_the_first():
    table = RecordingTable()
    changes(table, [("set", "a", 1), ("set", "b", 2)])
    table.sent.clear()
    assert changes(table, [("set", "b", 3)]) == [(1, "b", 3)]


def test_the_flush_before_a_commit_queues_the_unsent_table_writes_first():
    table = RecordingTable()
    table["rep-1"] = 42

    async def flush() -> None:
        buffer = DrainingProducerBuffer(loop=asyncio.get_running_loop())
        buffer.app = SimpleNamespace(
            tables={"buckets": table}, conf=SimpleNamespace(producer_threaded=False)
        )
        await buffer.flush()

    asyncio.run(flush())
    assert table.sent == [(1, "rep-1", 42)]


def test_only_write_behind_tables_are_asked_for_unsent_writes():
    table = RecordingTable()
    table["a"] = 1
    assert send_unsent_table_writes([table, object()]) == 1


def test_every_salespulse_table_defers_its_changelog_writes():
    assert issubclass(RoutedTable, WriteBehindChangelog)


def test_a_table_holding_back_too_many_changed_keys_sends_them_without_waiting_for_a_flush():
    table = RecordingTable()
    for number in range(MAX_UNSENT_KEYS):
        table[f"rep-{number}"] = number
    assert table.sent == []
    table["one-more"] = 1
    assert [(key, value) for _, key, value in table.sent] == [
        (f"rep-{number}", number) for number in range(MAX_UNSENT_KEYS)
    ]
    table.send_unsent()
    assert table.sent[-1][1:] == ("one-more", 1)


def test_the_key_being_changed_when_the_bound_is_reached_is_never_sent_as_deleted():
    # Found by chaos scenario 5: the hook runs before the table stores the value, so sending the
    # key being set at that moment wrote a tombstone over a KPI bucket.
    table = RecordingTable()
    for number in range(MAX_UNSENT_KEYS):
        table[f"rep-{number}"] = number
    table["rep-0"] = "again"
    table["new"] = "value"
    table.send_unsent()
    assert all(value is not None for _, _, value in table.sent)
    assert table.sent[-1][1:] == ("new", "value")


class FailingSendTable(RecordingTable):
    """A table whose changelog send raises for the keys in ``failing`` (as orjson did for a
    value beyond 64 bits), until they are cleared."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)

    def send_changelog(self, partition, key, value, value_serializer=None) -> None:
        if key in self.failing:
            raise TypeError("Integer exceeds 64-bit range")
        super().send_changelog(partition, key, value, value_serializer)


@pytest.mark.parametrize(
    ("keys", "failing", "sent_before_the_error"),
    [
        (["a", "bb", "ccc"], "a", []),
        (["a", "bb", "ccc"], "bb", ["a"]),
        (["a", "bb", "ccc"], "ccc", ["a", "bb"]),
    ],
)
def test_a_failing_send_keeps_every_unsent_key_pending_until_it_is_sent(
    keys, failing, sent_before_the_error
):
    table = FailingSendTable(failing)
    for number, key in enumerate(keys):
        table[key] = number
    with pytest.raises(TypeError):
        table.send_unsent()
    assert [key for _, key, _ in table.sent] == sent_before_the_error
    with pytest.raises(TypeError):  # still failing: still pending, nothing lost meanwhile
        send_unsent_table_writes([table])
    table.failing.clear()
    assert table.send_unsent() == len(keys) - len(sent_before_the_error)
    assert sorted(key for _, key, _ in table.sent) == sorted(keys)
    assert table.send_unsent() == 0


def test_a_key_changed_again_after_a_failed_flush_is_sent_once_with_its_latest_value():
    table = FailingSendTable("a")
    table["a"], table["b"] = 1, 2
    with pytest.raises(TypeError):
        table.send_unsent()
    table["b"] = 3
    table.failing.clear()
    table.send_unsent()
    assert [(key, value) for _, key, value in table.sent] == [("a", 1), ("b", 3)]


def test_a_changed_key_that_faust_dropped_since_is_not_written_at_all():
    # Faust's memory store drops the keys of a partition given up in a rebalance: the new owner
    # writes them now, so sending anything for them (above all a tombstone) would be wrong.
    table = RecordingTable()
    table["rep-1"] = 1
    table.data.pop("rep-1")
    assert changes(table, []) == []
