"""Typed state of engine v2 (docs/design/state-engine-v2.md, section 3) and its byte codec.

v1's KPI buckets were JSON lists (``[counts, reps, customers, marks]``) under string keys, one
per grid (``projections.timebase.Grid``), marks keyed by source labels ("d3", "k0"). v2 keeps one
``DayValue`` per (scope key, UTC day) holding its hours, so a correction touches one value instead
of two or three, and names every field; marks are keyed by src ids (``src_id``).

Stored bytes are a format byte (``FORMAT``) then msgpack of an ``array_like`` Struct. Fields are
only ever appended, with defaults: a value written before a field existed decodes with the
default, and a value written by a later format decodes here with the extra fields ignored.
(msgspec does not omit defaults of ``array_like`` Structs, jcrist/msgspec#720: every field is
written, a zero costs one byte.)

Integers beyond 64 bits (19 won deals of 10^12 in one hour are 1.9e19 micro-units) follow the
wire rule of ``projections.tally``: outside the signed 64-bit range they are written as decimal
strings and read back exactly; msgpack itself carries at most 64 bits.
"""

import re
from collections.abc import Iterator
from enum import IntEnum
from functools import cache
from typing import Any, Generic, TypeVar

import msgspec

from events.errors import CorruptRecord
from projections.tally import Tally, wire_int

FORMAT = 0x02
"""First byte of every stored value of this layout (v1 table values are JSON, without one)."""
MAX_PARTITIONS = 1024
"""Settings cap partitions at 1024 (``events.settings``), so a src id packs kind and partition."""


class SourceKind(IntEnum):
    """Which input a correction came from (its value is part of a src id: ``src_id``)."""

    DEAL = 0
    CALL = 1
    COST = 2
    CUSTOMER = 3


SOURCE_LETTERS = {
    SourceKind.DEAL: "d",
    SourceKind.CALL: "k",
    SourceKind.COST: "x",
    SourceKind.CUSTOMER: "c",
}
"""The first letter of a source's label on kpi-deltas (``Source``): ``d3`` is deal-events
partition 3. Wire text only: code names the kind."""
KIND_OF_LETTER = {letter: kind for kind, letter in SOURCE_LETTERS.items()}


class Source(str):
    """Where a correction came from: one partition of one input (``kind``, ``partition``).

    A ``str`` whose text is the label kpi-deltas carries (``"d3"``): a source hashes, compares
    and sorts exactly as the bare labels of earlier releases did, so messages keep their bytes
    and entry order, and bucket marks and tests that hold labels keep working. Code builds one
    with ``of`` (or ``parse`` for a label read from the wire) and reads its fields; only this
    class knows the letters.
    """

    __slots__ = ()

    @classmethod
    def of(cls, kind: SourceKind, partition: int) -> "Source":
        """The one ``Source`` object of an input partition: the folds tag every correction
        with it, and an object per input would only feed the garbage collector."""
        return _source_of(kind, partition)

    @classmethod
    def parse(cls, label: str) -> "Source":
        """The source of a wire label; ``KeyError``/``ValueError`` if it names no input
        partition (unknown letter, no number, a partition beyond ``MAX_PARTITIONS``)."""
        src_id_of_label(label)
        return cls(label)

    @property
    def kind(self) -> SourceKind:
        return KIND_OF_LETTER[self[:1]]

    @property
    def partition(self) -> int:
        return int(self[1:])

    @property
    def src_id(self) -> int:
        """The v2 key of this source's applied marks."""
        return src_id_of_label(self)

    @property
    def label(self) -> str:
        """The label as a plain ``str``: msgspec encodes no ``str`` subclass."""
        return str(self)


@cache
def _source_of(kind: SourceKind, partition: int) -> Source:
    return Source(f"{SOURCE_LETTERS[kind]}{partition}")


def src_id(kind: SourceKind, partition: int) -> int:
    """One small int per (input kind, partition): the key of a value's applied marks."""
    if not 0 <= partition < MAX_PARTITIONS:
        raise ValueError(f"partition {partition} outside 0..{MAX_PARTITIONS - 1}")
    return int(kind) * MAX_PARTITIONS + partition


def split_src_id(src: int) -> tuple[SourceKind, int]:
    kind, partition = divmod(src, MAX_PARTITIONS)
    return SourceKind(kind), partition


def src_id_of_label(label: str) -> int:
    """The src id of a wire label such as ``"d3"`` (``KeyError``/``ValueError``: none), on the
    apply agent's hot path: no ``Source`` is built."""
    return src_id(KIND_OF_LETTER[label[:1]], int(label[1:]))


class HourTally(msgspec.Struct, array_like=True, omit_defaults=True):
    """One hour (or one local-day part) of one scope key: both a state and a correction to it.

    Counts add; amounts (revenue, costs) are integer micro-units; ``reps`` and ``customers`` are
    multisets (member -> count, zero counts dropped) so a retraction removes exactly what an
    earlier contribution added. The v2 fields stay zero until contract v2's KPIs fill them.
    """

    opportunities: int = 0
    deals_won: int = 0
    deals_lost: int = 0
    revenue: int = 0
    calls: int = 0
    new_customers: int = 0
    cost_marketing: int = 0
    cost_sales: int = 0
    pipeline_created: int = 0
    won_with_created: int = 0
    won_age_us: int = 0
    open_delta: int = 0
    open_amount_delta: int = 0
    open_weighted_delta: int = 0
    reps: dict[str, int] = {}
    customers: dict[str, int] = {}


INT_FIELDS = HourTally.__struct_fields__[:-2]
"""Every field but the two multisets, which come last (``int_values`` relies on it)."""


class DayValue(msgspec.Struct, array_like=True):
    """Everything one scope key holds for one UTC day.

    ``hours`` (0-23 -> tally, sparse) are the hourly grid and their sum the daily one; ``local``
    holds, when the reporting zone is not UTC, the part of this UTC day inside each local day it
    overlaps (offsets like +5:45 split an hour between two local days); ``marks`` maps each src
    id to the highest correction position applied, so a replayed correction is skipped.
    """

    hours: dict[int, HourTally] = {}
    local: dict[int, HourTally] = {}
    marks: dict[int, int] = {}


class Carry(msgspec.Struct, array_like=True):
    """The open-deal stock of one scope key: every stock change it ever got, summed (so it
    survives the pruning of old days, design section 8), with the marks of what it absorbed.
    The stock at an instant T is this minus the changes at T or later."""

    open_deals: int = 0
    open_amount: int = 0
    open_weighted: int = 0
    marks: dict[int, int] = {}


def int_values(tally: HourTally) -> Iterator[tuple[str, int]]:
    """(name, value) of the tally's counts and amounts: one C call (``astuple``) instead of a
    ``getattr`` per field, on the apply and readout hot paths."""
    return zip(INT_FIELDS, msgspec.structs.astuple(tally))  # noqa: B905 (sets come last)


def add_tally(target: HourTally, other: HourTally, sign: int = 1) -> None:
    """``target += sign * other`` in place; multiset members whose count reaches 0 are dropped."""
    for name, delta in int_values(other):
        if delta:
            setattr(target, name, getattr(target, name) + sign * delta)
    _bump_all(target.reps, other.reps, sign)
    _bump_all(target.customers, other.customers, sign)


def _bump_all(target: dict[str, int], other: dict[str, int], sign: int) -> None:
    for member, delta in other.items():
        value = target.get(member, 0) + sign * delta
        if value:
            target[member] = value
        else:
            target.pop(member, None)


def tally_is_empty(tally: HourTally) -> bool:
    """True when the tally contributes nothing (as ``Tally.is_empty``): it may be dropped."""
    return not any(msgspec.structs.astuple(tally))


def hour_tally_of(tally: Tally) -> HourTally:
    """Today's ``Tally`` (count names as in ``COUNT_FIELDS``) as an ``HourTally``."""
    return HourTally(**tally.counts, reps=dict(tally.reps), customers=dict(tally.customers))


def tally_of(hour: HourTally) -> Tally:
    """The ``Tally`` today's readers take; only non-zero counts, as ``Tally`` keeps them."""
    counts = {name: value for name in INT_FIELDS if (value := getattr(hour, name))}
    return Tally(counts, dict(hour.reps), dict(hour.customers))


State = TypeVar("State", bound=msgspec.Struct)

_BEYOND_INT64 = re.compile(rb"\xcf[\x80-\xff]")
"""msgpack uint64 (0xcf) with its top bit set: an int in 2^63..2^64-1. Bytes of strings may match
too; that only sends the value through the exact (slower) path."""


class StateFormatError(CorruptRecord):
    """Stored bytes that are not a value of this layout (unknown format byte, bad msgpack)."""


class StateCodec(Generic[State]):
    """Bytes of one Struct type: ``FORMAT`` + msgpack, with the big-int rule applied both ways.

    Decoding is strict (fast) first; a value holding decimal strings is decoded again in msgspec's
    lax mode, which reads them back as exact ints. That mode also reads forms the encoder never
    writes ("1e3"); only this codec writes these values.
    """

    def __init__(self, kind: type[State]) -> None:
        self._kind = kind
        self._encoder = msgspec.msgpack.Encoder()
        self._strict = msgspec.msgpack.Decoder(kind)
        self._lax = msgspec.msgpack.Decoder(kind, strict=False)

    def encode(self, value: State) -> bytes:
        try:
            body = self._encoder.encode(value)
        except OverflowError:
            body = None
        if body is None or _BEYOND_INT64.search(body):
            body = self._encoder.encode(_wire(value))
        return bytes((FORMAT,)) + body

    def decode(self, data: bytes) -> State:
        if not data or data[0] != FORMAT:
            raise StateFormatError(f"not a format {FORMAT:#04x} {self._kind.__name__} value")
        body = memoryview(data)[1:]
        try:
            return self._strict.decode(body)
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError as error:
            raise StateFormatError(f"{self._kind.__name__}: {error}") from error
        try:
            return self._lax.decode(body)
        except msgspec.MsgspecError as error:
            raise StateFormatError(f"{self._kind.__name__}: {error}") from error


def _wire(value: Any) -> Any:
    """A copy of ``value`` whose ints outside int64 are decimal strings (Structs are not type
    checked on encode, so the copy keeps its Struct types and layout)."""
    if type(value) is int:
        return wire_int(value)
    if isinstance(value, list | tuple):
        return [_wire(item) for item in value]
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, msgspec.Struct):
        fields = value.__struct_fields__
        return msgspec.structs.replace(value, **{f: _wire(getattr(value, f)) for f in fields})
    return value


@cache
def codec_of(kind: type[State]) -> StateCodec[State]:
    """The one codec per type: encoders and decoders are reused (msgspec's first perf tip)."""
    return StateCodec(kind)
