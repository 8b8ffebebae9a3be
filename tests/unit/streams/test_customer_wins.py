"""customer-wins batched: one message per destination partition per fold-deals batch.

What must hold: a customer's changes reach the partition Kafka's partitioner gave its one-change
messages (murmur2 of the customer id), in the batch's order; positions increase along a partition
(the customers' histories and the buckets' applied marks rely on it); the one-change JSON messages
written before are still read; a bad message of either format is dead-lettered whole.
"""

from dataclasses import replace

import msgspec
import orjson
import pytest

from events.topics import DLQ_REASON, DLQ_SOURCE_OFFSET
from projections.deal import CustomerWin
from streams.agent_wire import MSGPACK_FORMAT
from streams.customer_wins import (
    POSITIONS_PER_MESSAGE,
    MalformedCustomerWins,
    decode_customer_wins,
    encode_customer_wins,
    position,
)
from streams.fold_values import win_to_wire
from streams.folds import CustomerWinChange, fold_customer_batch
from streams.routing import partition_of
from tests.support.agent_fakes import GRID, pipeline, record
from tests.support.factories import us
from tests.support.grid_buckets import apply_kpi_batch


def win(deal: int, day: int, channel: str | None = "email") -> CustomerWin:
    return CustomerWin(
        us(f"2026-02-{day:02d}T09:00:00Z"),
        f"d-{deal}",
        f"rep-{deal % 4}",
        f"team-{deal % 2}",
        channel,
    )


def changes(count: int = 40) -> list[CustomerWinChange]:
    """A fold-deals batch's changes: wins, a deal moving to another customer, losses."""
    made = []
    for i in range(count):
        customer = f"cust-{i % 9}"
        if i % 5 == 4:
            made.append(CustomerWinChange(customer, f"d-{i - 1}", None, 1000 + i))
        else:
            made.append(CustomerWinChange(customer, f"d-{i}", win(i, 1 + i % 27, None), 1000 + i))
    return made


def read_back(messages, partitions: int, first_offset: int = 0) -> list[CustomerWinChange]:
    """What fold-customers reads: each message at the next offset of its partition."""
    offsets: dict[int, int] = {}
    read = []
    for m in messages:
        offset = offsets[m.partition] = offsets.get(m.partition, first_offset - 1) + 1
        read += decode_customer_wins(m.key, m.value, offset, m.partition, partitions)
    return read


def one_change_value(change: CustomerWinChange) -> bytes:
    """A message of the first format, as workers wrote them before batching (key: customer)."""
    return orjson.dumps([change.deal_id, win_to_wire(change.win), change.source_offset])


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_a_batch_sends_one_message_per_partition_of_its_customers_keyed_as_kafka_places_them(
    partitions,
):
    messages = encode_customer_wins(changes(), partitions)
    expected = {partition_of(c.customer_id, partitions) for c in changes()}
    assert sorted(m.partition for m in messages) == sorted(expected)
    for m in messages:
        assert m.value[0] == MSGPACK_FORMAT
        assert partition_of(m.key.decode(), partitions) == m.partition
        decoded = decode_customer_wins(m.key, m.value, 0, m.partition, partitions)
        assert {partition_of(c.customer_id, partitions) for c in decoded} == {m.partition}


@pytest.mark.parametrize(("partitions", "max_bytes"), [(1, 512 * 1024), (8, 512 * 1024), (3, 90)])
def test_changes_read_back_equal_those_sent_in_order_per_partition(partitions, max_bytes):
    messages = encode_customer_wins(changes(), partitions, max_bytes)
    read = read_back(messages, partitions, first_offset=7)
    for partition in range(partitions):
        sent = [c for c in changes() if partition_of(c.customer_id, partitions) == partition]
        got = [c for c in read if c.partition == partition]
        assert [replace(c, offset=0, partition=0) for c in got] == sent
        positions = [c.offset for c in got]
        assert positions == sorted(set(positions))
        assert all(p >= position(7, 0) for p in positions)


def test_a_partition_with_more_changes_than_positions_per_message_gets_several_messages():
    many = [
        CustomerWinChange("cust-1", f"d-{i}", None, i) for i in range(POSITIONS_PER_MESSAGE + 5)
    ]
    messages = encode_customer_wins(many, 1)
    assert [len(decode_customer_wins(m.key, m.value, 0, 0, 1)) for m in messages] == [
        POSITIONS_PER_MESSAGE,
        5,
    ]
    positions = [c.offset for c in read_back(messages, 1)]
    assert positions == sorted(set(positions)) and len(positions) == len(many)


@pytest.mark.parametrize("change", changes(5), ids=lambda c: f"{c.deal_id}-{c.win is not None}")
def test_a_one_change_message_of_the_first_format_reads_as_before(change):
    [read] = decode_customer_wins(change.customer_id.encode(), one_change_value(change), 42, 5, 8)
    assert read == replace(change, offset=42, partition=5)


def buckets_of(messages_per_step, partitions: int, lost: tuple[int, ...] = ()) -> dict:
    """Buckets after folding each step's customer-wins messages at their offsets, then applying
    the corrections, except those of the steps in ``lost`` (a crash before their send: the
    customers' table is ahead of the buckets, and a replay must emit them again).

    A step item is a record (partition, offset, key, value), or a change as the workers before
    batching made it of their one-change message (``CustomerWinChange``, offset as position).
    """
    customers, buckets, live_keys = {}, {}, {}
    for index, step in enumerate(messages_per_step):
        read = []
        for item in step:
            if isinstance(item, CustomerWinChange):
                read.append(item)
            else:
                partition, offset, key, value = item
                read += decode_customer_wins(key, value, offset, partition, partitions)
        corrections = fold_customer_batch(customers, read)
        if index not in lost:
            apply_kpi_batch(buckets, live_keys, corrections.items(), GRID)
    return {key: bucket[:3] for key, bucket in buckets.items()}


def as_records(messages, first_offset: int) -> list[tuple[int, int, bytes, bytes]]:
    offsets: dict[int, int] = {}
    placed = []
    for m in messages:
        offset = offsets[m.partition] = offsets.get(m.partition, first_offset - 1) + 1
        placed.append((m.partition, offset, m.key, m.value))
    return placed


@pytest.mark.parametrize("partitions", [1, 4])
def test_batched_messages_give_the_kpis_of_one_change_messages_and_a_replay_changes_nothing(
    partitions,
):
    one_each = [
        (partition_of(c.customer_id, partitions), i, c.customer_id.encode(), one_change_value(c))
        for i, c in enumerate(changes())
    ]
    batched = as_records(encode_customer_wins(changes(), partitions), first_offset=0)
    assert buckets_of([batched], partitions) == buckets_of([one_each], partitions)
    assert buckets_of([batched, batched], partitions) == buckets_of([batched], partitions)


def test_an_upgrade_reads_one_change_messages_then_batches_and_survives_replaying_both():
    before, after = changes(40)[:20], changes(40)[20:]
    folded_before_upgrade = [replace(c, offset=i) for i, c in enumerate(before)]
    old = [(0, i, c.customer_id.encode(), one_change_value(c)) for i, c in enumerate(before)]
    new = as_records(encode_customer_wins(after, 1), first_offset=len(old))
    once = buckets_of([folded_before_upgrade, new], 1)
    assert once == buckets_of([old + new], 1)
    assert buckets_of([folded_before_upgrade, old, new], 1) == once
    assert buckets_of([folded_before_upgrade, new, old[10:], new], 1) == once
    assert buckets_of([folded_before_upgrade, old, new], 1, lost=(0,)) == once


def msgpack_value(changes_wire: object) -> bytes:
    return bytes([MSGPACK_FORMAT]) + msgspec.msgpack.encode([changes_wire])


CUSTOMER = "cust-1"
GOOD = [CUSTOMER, "d-1", [1_770_000_000_000_000, "rep-1", "team-1", None], 5]
HOME = partition_of(CUSTOMER, 8)
ELSEWHERE = next(f"cust-{i}" for i in range(99) if partition_of(f"cust-{i}", 8) != HOME)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param(b"c", b"not json", id="json-garbage"),
        pytest.param(b"c", orjson.dumps(["d-1", None]), id="json-too-short"),
        pytest.param(b"c", orjson.dumps(["d-1", [1, "r"], 5]), id="json-win-too-short"),
        pytest.param(b"c", orjson.dumps(["d-1", None, "five"]), id="json-offset-text"),
        pytest.param(None, orjson.dumps(["d-1", None, 5]), id="json-without-key"),
        pytest.param(b"c", None, id="no-value"),
        pytest.param(b"c", bytes([MSGPACK_FORMAT]), id="format-byte-alone"),
        pytest.param(b"c", msgpack_value([GOOD])[:-1], id="truncated"),
        pytest.param(b"c", msgpack_value([GOOD[:3]]), id="change-too-short"),
        pytest.param(b"c", msgpack_value([[*GOOD[:3], "5"]]), id="source-offset-text"),
        pytest.param(b"c", msgpack_value([[*GOOD[:2], [1, "r"], 5]]), id="win-too-short"),
        pytest.param(b"c", msgpack_value([[*GOOD[:2], [1.5, "r", "t", None], 5]]), id="float-at"),
        pytest.param(b"c", msgpack_value([[7, *GOOD[1:]]]), id="customer-not-text"),
        pytest.param(b"c", msgpack_value([GOOD, [ELSEWHERE, *GOOD[1:]]]), id="other-partition"),
        pytest.param(b"c", msgpack_value([GOOD] * (POSITIONS_PER_MESSAGE + 1)), id="too-many"),
    ],
)
def test_a_malformed_message_of_either_format_is_refused_whole(key, value):
    assert decode_customer_wins(b"c", msgpack_value([GOOD, GOOD]), 3, HOME, 8)
    with pytest.raises(MalformedCustomerWins):
        decode_customer_wins(key, value, 3, HOME, 8)


async def test_fold_customers_dead_letters_a_bad_message_and_folds_both_formats_around_it():
    receiver, expected = pipeline(), pipeline()
    old = [
        record("wins", one_change_value(c), 0, i, c.customer_id.encode())
        for i, c in enumerate(changes(6))
    ]
    bad = record("wins", msgpack_value([GOOD[:3]]), 0, 6)
    new = [
        record("wins", m.value, m.partition, 7 + i, m.key)
        for i, m in enumerate(encode_customer_wins(changes(40)[6:], 8))
    ]
    await receiver.on_customer_batch([*old, bad, *new])
    [letter] = receiver.topics.dead_letters.sent
    headers = dict(letter["headers"])
    assert b"not a customer-win change" in headers[DLQ_REASON]
    assert headers[DLQ_SOURCE_OFFSET] == b"6"
    await expected.on_customer_batch([*old, *new])
    assert receiver.topics.kpi_deltas.direct == expected.topics.kpi_deltas.direct != []
    assert receiver.state.merged("customers") == expected.state.merged("customers")
