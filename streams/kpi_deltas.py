"""The ``kpi-deltas`` message format: every scope key of one destination partition in one message.

Why per partition: an agent's batch touches hundreds of scope keys (rep, team, channel, company,
each per bucket grid), and one Kafka record per scope key made the records themselves the cost
(docs/BENCHMARKS.md, proposal 4). A message now carries every scope key of its batch that lives
in one partition, and is sent with that partition explicitly, so placement is unchanged: a scope
key's corrections still reach the partition of its own key (``streams.routing.partition_of``),
which is where its buckets live and which worker owns it.

Value: the format byte ``0x02``, then msgpack (msgspec) of ``KpiDeltasBody``, an array::

    [[[scope_key, [[src, offset, quarter, counts, reps, customers], ...]], ...]]

Why msgpack: encoding and decoding the JSON of this message cost a quarter of the agents' pure
path (``python -m bench fold``); msgspec decodes it straight into typed tuples, checked in C.
``KpiDeltasBody`` is ``array_like``: later fields are appended with defaults, and a reader ignores
trailing fields it does not know. The second field, ``st_us`` (retention, design §8), is the
sender's stream time: the latest ``occurred_at`` (epoch microseconds) its input partition has
folded. The apply agent keeps the max of what arrives as its partition's stream time. A message
without it (older writers, customer-wins' fold, which reads no event time) decodes with ``None``
and moves nothing; an older reader skips it::

    [[[scope_key, [...]], ...], st_us]

Messages of the first format, compact JSON (orjson) without a format byte, are still read (they
may sit on the topic when a worker is upgraded; JSON values always start with ``[``)::

    [[scope_key, [[src, offset, quarter, counts, reps, customers], ...]], ...]

In both, counts are integers, and decimal strings for the rare sums beyond 64 bits
(``projections.tally.wire_int``).

The message key is the first scope key of the message: informative only, but it hashes to the
same partition, so a tool that places by key would agree.

Order, which the applied marks rely on (``projections.day_values.apply_day_batch``): entries of
a scope key keep their (src, offset) order inside a message, scope keys keep the order of the
batch, and the messages of one partition are sent one after the other by the one producer of the
agent that folded the source partition, so Kafka keeps them in that order too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, NamedTuple

import msgspec
import orjson

from events.errors import CorruptRecord
from events.timestamps import LATEST_INSTANT
from projections.day_values import DayEntry, day_entries_of
from projections.state_types import HourTally, src_id_of_label
from projections.tally import Tally, read_counts, wire_counts
from projections.timebase import QUARTER_US
from streams.agent_wire import (
    BODY_HEADER,
    MAX_MESSAGE_BYTES,
    MSGPACK_FORMAT,
    AgentMessage,
    pack_messages,
    placed,
)
from streams.folds import Entry

WireCounts = dict[str, int]
WideCounts = dict[str, int | str]
WireEntry = tuple[str, int, int, WireCounts, WireCounts, WireCounts]
WideEntry = tuple[str, int, int, WideCounts, WideCounts, WideCounts]


class KpiDeltasBody(msgspec.Struct, array_like=True):
    """A msgpack kpi-deltas message: (scope key, entries) in batch order, the sender's stream
    time (``None``: not carried)."""

    scopes: list[tuple[str, list[WireEntry]]]
    st_us: int | None = None


class WideKpiDeltasBody(msgspec.Struct, array_like=True):
    """The same message read with counts that may be decimal strings (sums beyond 64 bits)."""

    scopes: list[tuple[str, list[WideEntry]]]
    st_us: int | None = None


class KpiDeltas(NamedTuple):
    """A decoded message: its corrections and the stream time it carried (``None``: none)."""

    scopes: list[tuple[str, list[Entry]]]
    stream_us: int | None


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(KpiDeltasBody)
_WIDE_DECODER = msgspec.msgpack.Decoder(WideKpiDeltasBody)


def encode_kpi_deltas(
    corrections: Iterable[tuple[str, list[Entry]]],
    partitions: int,
    max_bytes: int = MAX_MESSAGE_BYTES,
    stream_us: int | None = None,
) -> list[AgentMessage]:
    """The messages carrying ``corrections`` (scope key, its entries in order), per partition,
    each with the sender's stream time ``stream_us`` when given."""
    encode = _ENCODER.encode
    items = (
        (
            scope_key,
            encode(
                (
                    scope_key,
                    [
                        (src, offset, q, _wire(t.counts), _wire(t.reps), _wire(t.customers))
                        for src, offset, q, t in entries
                    ],
                )
            ),
        )
        for scope_key, entries in corrections
    )
    messages = pack_messages(items, partitions, max_bytes=max_bytes)
    if stream_us is None:
        return messages
    return [replace(m, value=with_stream_time(m.value, stream_us)) for m in messages]


_TWO_FIELDS = bytes([MSGPACK_FORMAT, 0x92])


def with_stream_time(value: bytes, stream_us: int) -> bytes:
    """A one-field message body (``pack_messages``) with ``st_us`` appended as its second."""
    if not value.startswith(BODY_HEADER):
        raise ValueError("not a one-field msgpack kpi-deltas value")
    return _TWO_FIELDS + value[len(BODY_HEADER) :] + _ENCODER.encode(stream_us)


def _wire(values: dict[str, int]) -> dict[str, int | str]:
    """``wire_counts``, skipping the range check for the many empty multisets."""
    return wire_counts(values) if values else values


class MalformedKpiDeltas(CorruptRecord):
    """A kpi-deltas value this worker cannot apply; the message is dead-lettered."""


def decode_kpi_deltas(
    value: bytes | None, partition: int, partitions: int
) -> list[tuple[str, list[Entry]]]:
    """The (scope key, entries) of a message read from ``partition``, or ``MalformedKpiDeltas``
    (``read_kpi_deltas`` without the stream time)."""
    return read_kpi_deltas(value, partition, partitions).scopes


def read_kpi_deltas(value: bytes | None, partition: int, partitions: int) -> KpiDeltas:
    """The corrections and stream time of a message read from ``partition``, or
    ``MalformedKpiDeltas``.

    Checked before anything is applied, so a bad message changes no bucket: its shape, integer
    counts (a string would fail later, inside the batch apply, and stop the agent), and that every
    scope key belongs to the partition it was read from (another partition's key would be written
    by a worker that does not own it).
    """
    if value and value[0] == MSGPACK_FORMAT:
        found = _decode_msgpack(value, partition, partitions)
    else:
        found = KpiDeltas(_decode_json(value, partition, partitions), None)
    _expect_event_time(found.stream_us, "st_us")
    for _, entries in found.scopes:
        for entry in entries:
            _expect_event_time(entry[2] * QUARTER_US, "quarter")
    return found


class DayDeltas(NamedTuple):
    """A decoded message in the form the apply agent applies: entries of day values."""

    scopes: list[tuple[str, list[DayEntry]]]
    stream_us: int | None


def read_day_entries(value: bytes | None, partition: int, partitions: int) -> DayDeltas:
    """``read_kpi_deltas`` straight into day-value entries (src id, position, quarter,
    ``HourTally``): the apply agent's hot path, which skips the ``Tally`` step for msgpack
    messages of 64-bit counts (nearly all); the others go through ``read_kpi_deltas``."""
    if value and value[0] == MSGPACK_FORMAT:
        try:
            decoded = _DECODER.decode(memoryview(value)[1:])
        except msgspec.DecodeError:
            pass
        else:
            _expect_event_time(decoded.st_us, "st_us")
            return DayDeltas(_day_scopes(decoded.scopes, partition, partitions), decoded.st_us)
    scopes, stream_us = read_kpi_deltas(value, partition, partitions)
    try:
        return DayDeltas([(key, day_entries_of(entries)) for key, entries in scopes], stream_us)
    except (TypeError, KeyError, ValueError) as exc:  # an unknown count name or source label
        raise MalformedKpiDeltas(str(exc)) from None


def _day_scopes(
    scopes: list[tuple[str, list[WireEntry]]], partition: int, partitions: int
) -> list[tuple[str, list[DayEntry]]]:
    ids: dict[str, int] = {}
    result = []
    try:
        for scope_key, entries in scopes:
            _expect_owned(scope_key, partition, partitions)
            day_entries = []
            for src, offset, quarter, counts, reps, customers in entries:
                _expect_event_time(quarter * QUARTER_US, "quarter")
                src_id = ids.get(src)
                if src_id is None:
                    src_id = ids[src] = src_id_of_label(src)
                tally = HourTally(**counts, reps=reps, customers=customers)
                day_entries.append((src_id, offset, quarter, tally))
            result.append((scope_key, day_entries))
    except (TypeError, KeyError, ValueError) as exc:  # an unknown count name or source label
        raise MalformedKpiDeltas(str(exc)) from None
    return result


def _decode_msgpack(value: bytes, partition: int, partitions: int) -> KpiDeltas:
    body = memoryview(value)[1:]
    try:
        decoded = _DECODER.decode(body)
        scopes, stream_us = decoded.scopes, decoded.st_us
    except msgspec.DecodeError:
        scopes, stream_us = _decode_wide(body)
    result = []
    for scope_key, entries in scopes:
        _expect_owned(scope_key, partition, partitions)
        result.append((scope_key, [(s, o, q, Tally(c, r, cu)) for s, o, q, c, r, cu in entries]))
    return KpiDeltas(result, stream_us)


def _decode_wide(body: memoryview) -> tuple[list[tuple[str, list[WireEntry]]], int | None]:
    """The rare message with counts beyond 64 bits: decimal strings read back as exact ints."""
    try:
        decoded = _WIDE_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedKpiDeltas(str(exc)) from None
    try:
        return [
            (key, [(s, o, q, *map(read_counts, (c, r, cu))) for s, o, q, c, r, cu in entries])
            for key, entries in decoded.scopes
        ], decoded.st_us
    except ValueError as exc:
        raise MalformedKpiDeltas(f"counts must be integers: {exc}") from None


def _decode_json(
    value: bytes | None, partition: int, partitions: int
) -> list[tuple[str, list[Entry]]]:
    """A message of the first format (orjson), written by workers before the msgpack one."""
    try:
        decoded = orjson.loads(value or b"")
        _expect(isinstance(decoded, list), "not a list of [scope key, entries]")
        result = []
        for scope_key, entries in decoded:
            _expect(isinstance(scope_key, str), f"scope key {scope_key!r} is not a string")
            _expect_owned(scope_key, partition, partitions)
            _expect(isinstance(entries, list), f"entries of {scope_key!r} are not a list")
            result.append((scope_key, [_json_entry(*entry) for entry in entries]))
        return result
    except MalformedKpiDeltas:
        raise
    except (ValueError, TypeError, AttributeError) as exc:
        raise MalformedKpiDeltas(str(exc)) from exc


def _json_entry(
    src: Any, offset: Any, quarter: Any, counts: Any, reps: Any, customers: Any
) -> Entry:
    _expect(isinstance(src, str), f"src {src!r} is not a string")
    _expect(type(offset) is int and type(quarter) is int, "offset and quarter must be integers")
    try:
        return src, offset, quarter, Tally(*(read_counts(p) for p in (counts, reps, customers)))
    except ValueError as exc:
        raise MalformedKpiDeltas(f"counts must be integers: {exc}") from None


EARLIEST_US = 0
LATEST_US = int(LATEST_INSTANT.timestamp()) * 1_000_000


def _expect_event_time(at_us: int | None, field: str) -> None:
    """A quarter or stream time past the bounds of every event time would break the day keys
    (an agent crash) or move the horizon past everything kept (all day values pruned)."""
    _expect(at_us is None or EARLIEST_US <= at_us < LATEST_US, f"{field} out of event-time range")


def _expect_owned(scope_key: str, partition: int, partitions: int) -> None:
    _expect(
        placed(scope_key, partitions) == partition,
        f"scope key {scope_key!r} does not belong to partition {partition}",
    )


def _expect(condition: bool, reason: str) -> None:
    if not condition:
        raise MalformedKpiDeltas(reason)
