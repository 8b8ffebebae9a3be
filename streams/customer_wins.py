"""The ``customer-wins`` message format: a fold-deals batch's win changes, per partition.

Why batched: one Kafka record per win change was ~0.10 records per input event, the largest
share of the records the agents still write besides kpi-deltas (design state-engine-v2 §9). As
``streams.kpi_deltas`` does, a batch's changes go in one message per destination partition, sent
to that partition explicitly. The partition is ``partition_of(customer_id)``, murmur2 of the
customer id, which is where Kafka's default partitioner put the one-change messages keyed by
customer id: a customer's history stays in one partition, read by the worker that owns it.

Value: the format byte ``0x02`` (``streams.agent_wire``), then msgpack of ``CustomerWinsBody``,
its ``ChangeWire``s (a win's array: ``streams.fold_values``)::

    [[[customer_id, deal_id, [won_at, rep, team, channel] | nil, deal_event_offset], ...]]

The message key is the first customer id (informative; it hashes to the same partition).

Messages of the first format are still read: key = customer id, value compact JSON
``[deal_id, [won_at, rep, team, channel] | null, deal_event_offset]``.

Position. ``streams.folds.fold_customer_batch`` orders a customer's changes by the position they
were read at (``CustomerWinChange.offset``): it decides which states are visible before a change,
recognises a replayed change (same position) and tags the change's corrections, whose per-bucket
applied marks need positions increasing along the partition. A batched message at offset ``o``
gives its i-th change the position ``o * POSITIONS_PER_MESSAGE + i`` (design §3); a message of
the first format keeps its offset as position, so changes folded before an upgrade are
recognised when replayed after it. Both orders agree as long as every first-format message of a
partition precedes every batched one (offset ``o' > o`` gives ``o' * 4096 + i > o``): true once
all writers write batches. A worker of the first format must not write to a topic that already
holds batches (it could not read them either): upgrade every worker, or rebuild (OPERATIONS.md).
``source_offset`` (the deal event's offset) is carried unchanged, so among a deal's states the
newest still wins whatever the order changes arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import orjson

from events.errors import CorruptRecord
from projections.deal import CustomerWin
from streams.agent_wire import (
    MAX_MESSAGE_BYTES,
    MSGPACK_FORMAT,
    AgentMessage,
    pack_messages,
    placed,
)
from streams.fold_values import win_from_wire, win_to_wire
from streams.folds import CustomerWinChange

POSITIONS_PER_MESSAGE = 4096
"""Most changes in one message: positions of the next offset start past the last index."""


class WinWire(msgspec.Struct, array_like=True):
    """won_at (µs), rep id, team id, channel, and (v2) the segment, written only when the deal
    has one: a v1 win keeps its four elements (``streams.fold_values.win_to_wire`` writes it)."""

    won_at: int
    rep_id: str
    team_id: str
    channel: str | None = None
    segment: str | None = None

    def customer_win(self, deal_id: str) -> CustomerWin:
        return CustomerWin(
            self.won_at, deal_id, self.rep_id, self.team_id, self.channel, self.segment
        )


class ChangeWire(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    """One win change: exactly these four elements (``win`` ``None``: no longer a win there)."""

    customer_id: str
    deal_id: str
    win: WinWire | None
    source_offset: int


class CustomerWinsBody(msgspec.Struct, array_like=True):
    """A batched customer-wins message; fields are only appended, with defaults."""

    changes: list[ChangeWire]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(CustomerWinsBody)


class MalformedCustomerWins(CorruptRecord):
    """A customer-wins value this worker cannot fold; the message is dead-lettered."""


def position(offset: int, index: int) -> int:
    """Where the ``index``-th change of the batched message at ``offset`` sits in its partition."""
    return offset * POSITIONS_PER_MESSAGE + index


def encode_customer_wins(
    changes: Iterable[CustomerWinChange],
    partitions: int,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[AgentMessage]:
    """The messages carrying ``changes`` per partition of their customer, in the batch's order."""
    items = ((change.customer_id, _ENCODER.encode(_change_wire(change))) for change in changes)
    return pack_messages(items, partitions, POSITIONS_PER_MESSAGE, max_bytes)


def _change_wire(change: CustomerWinChange) -> tuple:
    """The ``ChangeWire`` array of a change, its win of four elements unless it has a segment
    (a ``WinWire`` would write all five)."""
    return (change.customer_id, change.deal_id, win_to_wire(change.win), change.source_offset)


def decode_customer_wins(
    key: bytes | None, value: bytes | None, offset: int, partition: int, partitions: int
) -> list[CustomerWinChange]:
    """The changes of the message at ``offset`` of ``partition``, or ``MalformedCustomerWins``.

    A batched message is checked whole before any change is folded: its shape, at most
    ``POSITIONS_PER_MESSAGE`` changes, and every customer in the partition it was read from.
    """
    if value and value[0] == MSGPACK_FORMAT:
        return _decode_batch(value, offset, partition, partitions)
    return [_decode_single(key, value, offset, partition)]


def _decode_batch(
    value: bytes, offset: int, partition: int, partitions: int
) -> list[CustomerWinChange]:
    try:
        changes = _DECODER.decode(memoryview(value)[1:]).changes
    except msgspec.DecodeError as exc:
        raise MalformedCustomerWins(str(exc)) from None
    if len(changes) > POSITIONS_PER_MESSAGE:
        raise MalformedCustomerWins(f"{len(changes)} changes, more than {POSITIONS_PER_MESSAGE}")
    result = []
    for index, change in enumerate(changes):
        if placed(change.customer_id, partitions) != partition:
            raise MalformedCustomerWins(
                f"customer {change.customer_id!r} does not belong to partition {partition}"
            )
        win = change.win
        result.append(
            CustomerWinChange(
                change.customer_id,
                change.deal_id,
                None if win is None else win.customer_win(change.deal_id),
                change.source_offset,
                position(offset, index),
                partition,
            )
        )
    return result


def _decode_single(
    key: bytes | None, value: bytes | None, offset: int, partition: int
) -> CustomerWinChange:
    """A one-change message of the first format, read as the workers before batching did."""
    try:
        deal_id, win, source_offset = orjson.loads(value or b"")
        return CustomerWinChange(
            key.decode(),  # type: ignore[union-attr]  # None: AttributeError, refused below
            deal_id,
            win_from_wire(deal_id, win),
            int(source_offset),
            offset,
            partition,
        )
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise MalformedCustomerWins(str(exc)) from exc
