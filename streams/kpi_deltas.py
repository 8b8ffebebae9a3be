"""The ``kpi-deltas`` message format: every scope key of one destination partition in one message.

Why per partition: an agent's batch touches hundreds of scope keys (rep, team, channel, company,
each per bucket grid), and one Kafka record per scope key made the records themselves the cost
(docs/BENCHMARKS.md, proposal 4). A message now carries every scope key of its batch that lives
in one partition, and is sent with that partition explicitly, so placement is unchanged: a scope
key's corrections still reach the partition of its own key (``streams.routing.partition_of``),
which is where its buckets live and which worker owns it.

Value: the format byte ``0x02``, then msgpack (msgspec) of ``KpiDeltasBody``
(``streams.kpi_deltas_body``): the corrections (``streams.corrections``) of each scope key, then
the sender's stream time ``st_us`` (retention, design §8; absent from older messages)::

    [[[scope_key, [[source, offset, quarter, counts, reps, customers], ...]], ...], st_us]

``source`` is the label of a ``projections.state_types.Source`` (``"d3"``: deal-events partition
3), ``quarter`` the quarter-hour index of the correction.

Why msgpack: encoding and decoding the JSON of this message cost a fourth of the agents' pure
path (``python -m bench fold``); msgspec decodes it straight into typed Structs, checked in C.

Messages of the first format, compact JSON (orjson) without a format byte, are still read (they
may sit on the topic when a worker is upgraded; JSON values always start with ``[``)::

    [[scope_key, [[source, offset, quarter, counts, reps, customers], ...]], ...]

In both, counts are integers, and decimal strings for the rare sums beyond 64 bits
(``projections.tally.wire_int``).

The message key is the first scope key of the message: informative only (it hashes to the same
partition, so a tool that places by key would agree).

Order, which the applied marks rely on (``projections.day_values.apply_day_batch``): corrections
of a scope key keep their (source, offset) order inside a message, scope keys keep the order of the
batch, and the messages of one partition are sent one after the other by the one producer of the
agent that folded the source partition, so Kafka keeps them in that order too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, NamedTuple

import msgspec
import orjson

from events.errors import CorruptRecord
from events.timestamps import LATEST_INSTANT
from projections.day_values import DayCorrection, day_entries_of
from projections.state_types import HourTally, Source, src_id_of_label
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
from streams.corrections import Correction
from streams.kpi_deltas_body import KpiDeltasBody, WireCorrection, WireScope


class KpiDeltas(NamedTuple):
    """A decoded message: its corrections and the stream time it carried (``None``: none)."""

    scopes: list[tuple[str, list[Correction]]]
    stream_us: int | None


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(KpiDeltasBody[int])
_WIDE_DECODER = msgspec.msgpack.Decoder(KpiDeltasBody[int | str])
"""The rare message with a count beyond 64 bits, a decimal string: read back exactly after."""


def encode_kpi_deltas(
    corrections: Iterable[tuple[str, list[Correction]]],
    partitions: int,
    max_bytes: int = MAX_MESSAGE_BYTES,
    stream_us: int | None = None,
) -> list[AgentMessage]:
    """The messages carrying ``corrections`` (scope key, its corrections in order), per
    partition, each with the sender's stream time ``stream_us`` when given."""
    encode = _ENCODER.encode
    shared: dict[int, tuple[Correction, WireCorrection[Any]]] = {}
    items = (
        (key, encode(_wire_scope(key, entries, shared=shared))) for key, entries in corrections
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


def _wire_scope(
    scope_key: str,
    corrections: list[Correction],
    counts_of: Callable[[dict], dict] | None = None,
    shared: dict[int, tuple[Correction, WireCorrection[Any]]] | None = None,
) -> WireScope[Any]:
    """A scope key's corrections (or plain ``(source, offset, quarter, tally)`` tuples) as
    their arrays; ``str`` turns a ``Source`` into the label msgspec can encode. Counts go
    through ``counts_of`` (default: ``_wire``, the form msgpack carries). ``shared`` remembers
    each correction's array by identity (across the calls of one message's encoding), so a
    correction that several scope keys share (one input's ``Spread``) is built into its array
    once; it holds the correction, so no identity is reused while it lives."""
    counts_of = counts_of or _wire
    shared = {} if shared is None else shared
    wires = []
    for correction in corrections:
        known = shared.get(id(correction))
        if known is None:
            known = shared[id(correction)] = (correction, _wire_correction(correction, counts_of))
        wires.append(known[1])
    return WireScope(scope_key, wires)


def _wire_correction(
    correction: Correction, counts_of: Callable[[dict], dict]
) -> WireCorrection[Any]:
    source, offset, quarter, tally = correction
    return WireCorrection(
        str(source),
        offset,
        quarter,
        counts_of(tally.counts),
        counts_of(tally.reps),
        counts_of(tally.customers),
    )


def _exact(values: dict[str, int]) -> dict[str, int]:
    return values


def _wire(values: dict[str, int]) -> dict[str, int | str]:
    """``wire_counts``, skipping the range check for the many empty multisets."""
    return wire_counts(values) if values else values


class MalformedKpiDeltas(CorruptRecord):
    """A kpi-deltas value this worker cannot apply; the message is dead-lettered."""


def decode_kpi_deltas(
    value: bytes | None, partition: int, partitions: int
) -> list[tuple[str, list[Correction]]]:
    """The (scope key, corrections) of a message read from ``partition``, or
    ``MalformedKpiDeltas`` (``read_kpi_deltas`` without the stream time)."""
    return read_kpi_deltas(value, partition, partitions).scopes


def read_kpi_deltas(value: bytes | None, partition: int, partitions: int) -> KpiDeltas:
    """The corrections and stream time of a message read from ``partition``, or
    ``MalformedKpiDeltas``.

    Checked before anything is applied, so a bad message changes no bucket: its shape, integer
    counts (a string would fail later, inside the batch apply, and stop the agent), sources that
    name an input partition, and that every scope key belongs to the partition it was read from
    (another partition's key would be written by a worker that does not own it).
    """
    if value and value[0] == MSGPACK_FORMAT:
        found = _decode_msgpack(value, partition, partitions)
    else:
        found = KpiDeltas(_decode_json(value, partition, partitions), None)
    _expect_event_time(found.stream_us, "st_us")
    for _, corrections in found.scopes:
        for correction in corrections:
            _expect_event_time(correction.quarter * QUARTER_US, "quarter")
    return found


class DayKpiDeltas(NamedTuple):
    """A decoded message in the form the apply agent applies: ``DayCorrection``s."""

    scopes: list[tuple[str, list[DayCorrection]]]
    stream_us: int | None


def read_day_entries(value: bytes | None, partition: int, partitions: int) -> DayKpiDeltas:
    """``read_kpi_deltas`` straight into ``DayCorrection``s: the apply agent's hot path, which
    skips the ``Tally`` step for msgpack messages of 64-bit counts (nearly all); the others go
    through ``read_kpi_deltas``."""
    decoded = _fast_body(value)
    if decoded is not None:
        return DayKpiDeltas(_day_scopes(decoded.scopes, partition, partitions), decoded.st_us)
    scopes, stream_us = read_kpi_deltas(value, partition, partitions)
    try:
        return DayKpiDeltas([(key, day_entries_of(entries)) for key, entries in scopes], stream_us)
    except (TypeError, KeyError, ValueError) as exc:  # an unknown count name or source label
        raise MalformedKpiDeltas(str(exc)) from None


def read_wire_scopes(
    value: bytes | None, partition: int, partitions: int
) -> tuple[list[WireScope[int]], int | None]:
    """A message's scopes as their wire Structs, each owned by ``partition``, and its stream
    time: what the compiled apply reads (``streams.kpi_apply``), which checks the corrections
    themselves. Messages of the first format or with counts beyond 64 bits (rare) are read
    through ``read_kpi_deltas`` and given back in the same form."""
    decoded = _fast_body(value)
    if decoded is not None:
        for scope in decoded.scopes:
            _expect_owned(scope.scope_key, partition, partitions)
        return decoded.scopes, decoded.st_us
    scopes, stream_us = read_kpi_deltas(value, partition, partitions)
    return [_wire_scope(key, entries, _exact) for key, entries in scopes], stream_us


def _fast_body(value: bytes | None) -> KpiDeltasBody[int] | None:
    """The body of a msgpack message of 64-bit counts (nearly all), its stream time checked;
    None for any other message, which ``read_kpi_deltas`` reads (or refuses)."""
    if not value or value[0] != MSGPACK_FORMAT:
        return None
    try:
        decoded = _DECODER.decode(memoryview(value)[1:])
    except msgspec.DecodeError:
        return None
    _expect_event_time(decoded.st_us, "st_us")
    return decoded


def _day_scopes(
    scopes: list[WireScope[int]], partition: int, partitions: int
) -> list[tuple[str, list[DayCorrection]]]:
    ids: dict[str, int] = {}
    result = []
    try:
        for scope in scopes:
            _expect_owned(scope.scope_key, partition, partitions)
            day_corrections = []
            for wire in scope.corrections:
                _expect_event_time(wire.quarter * QUARTER_US, "quarter")
                src_id = ids.get(wire.source)
                if src_id is None:
                    src_id = ids[wire.source] = src_id_of_label(wire.source)
                tally = HourTally(**wire.counts, reps=wire.reps, customers=wire.customers)
                day_corrections.append(DayCorrection(src_id, wire.offset, wire.quarter, tally))
            result.append((scope.scope_key, day_corrections))
    except (TypeError, KeyError, ValueError) as exc:  # an unknown count name or source label
        raise MalformedKpiDeltas(str(exc)) from None
    return result


def _decode_msgpack(value: bytes, partition: int, partitions: int) -> KpiDeltas:
    body = memoryview(value)[1:]
    try:
        decoded = _DECODER.decode(body)
    except msgspec.DecodeError:
        decoded = _decode_wide(body)
    sources: dict[str, Source] = {}
    result = []
    for scope in decoded.scopes:
        _expect_owned(scope.scope_key, partition, partitions)
        corrections = [
            Correction(
                _source(wire.source, sources),
                wire.offset,
                wire.quarter,
                Tally(wire.counts, wire.reps, wire.customers),
            )
            for wire in scope.corrections
        ]
        result.append((scope.scope_key, corrections))
    return KpiDeltas(result, decoded.st_us)


def _decode_wide(body: memoryview) -> KpiDeltasBody[Any]:
    """The rare message with counts beyond 64 bits: decimal strings read back as exact ints."""
    try:
        decoded = _WIDE_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedKpiDeltas(str(exc)) from None
    try:
        for wire in (wire for scope in decoded.scopes for wire in scope.corrections):
            wire.counts, wire.reps, wire.customers = map(
                read_counts, (wire.counts, wire.reps, wire.customers)
            )
    except ValueError as exc:
        raise MalformedKpiDeltas(f"counts must be integers: {exc}") from None
    return decoded


def _source(label: str, known: dict[str, Source]) -> Source:
    """The source a label names (parsed once per message), or ``MalformedKpiDeltas``."""
    source = known.get(label)
    if source is None:
        try:
            source = known[label] = Source.parse(label)
        except (KeyError, ValueError):
            raise MalformedKpiDeltas(f"source {label!r} names no input partition") from None
    return source


def _decode_json(
    value: bytes | None, partition: int, partitions: int
) -> list[tuple[str, list[Correction]]]:
    """A message of the first format (orjson), written by workers before the msgpack one."""
    try:
        decoded = orjson.loads(value or b"")
        _expect(isinstance(decoded, list), "not a list of [scope key, entries]")
        result = []
        for scope_key, entries in decoded:
            _expect(isinstance(scope_key, str), f"scope key {scope_key!r} is not a string")
            _expect_owned(scope_key, partition, partitions)
            _expect(isinstance(entries, list), f"entries of {scope_key!r} are not a list")
            result.append((scope_key, [_json_correction(*entry) for entry in entries]))
        return result
    except MalformedKpiDeltas:
        raise
    except (ValueError, TypeError, AttributeError) as exc:
        raise MalformedKpiDeltas(str(exc)) from exc


def _json_correction(
    source: Any, offset: Any, quarter: Any, counts: Any, reps: Any, customers: Any
) -> Correction:
    """A correction's array in the first format: its six elements, as arguments."""
    _expect(isinstance(source, str), f"src {source!r} is not a string")
    _expect(type(offset) is int and type(quarter) is int, "offset and quarter must be integers")
    try:
        tally = Tally(*(read_counts(p) for p in (counts, reps, customers)))
    except ValueError as exc:
        raise MalformedKpiDeltas(f"counts must be integers: {exc}") from None
    return Correction(_source(source, {}), offset, quarter, tally)


EARLIEST_US = 0
LATEST_US = int(LATEST_INSTANT.timestamp()) * 1_000_000


def _expect_event_time(at_us: int | None, field: str) -> None:
    """A quarter-hour or stream time past the bounds of every event time would break the day keys
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
