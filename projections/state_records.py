"""Typed values of the non-KPI column families (design state-engine-v2 §3): deals, customers,
seen event ids, and the partition's meta record.

Today these are Faust table values in JSON (``streams.folds``): a deal is ``{"events": [[id, at,
seq, "kind", {attrs}], ...]}``, a customer ``{deal_id: [[position, source_offset, win|null],
...]}``, a seen event one ``[routing_key, event_id] -> offset`` entry. Here they are
``array_like`` msgspec Structs stored as ``projections.state_types`` stores day values (format
byte, then msgpack; fields only appended, with defaults). ``projections.state_legacy`` converts
today's JSON values to these and back, exactly.

Absent attributes. A deal event overwrites only the attributes it carried, so "absent" must differ
from any value. Contract section 1 refuses an explicit null for every deal attribute
(``events._fields``), so ``None`` means absent here and costs one byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import msgspec

from projections.deal import (
    ATTRIBUTES,
    LOST,
    OPEN,
    WON,
    CustomerWin,
    DealEvent,
    DealEventKind,
    DealState,
    fold_deal,
)
from projections.state_types import codec_of

ATTRIBUTE_NAMES = (*ATTRIBUTES, "segment", "probability")
"""The v1 attributes the folds read, then contract v2's, in ``events.models.DEAL_ATTRIBUTES``
order: the order of today's stored JSON, which a round trip must keep."""
"""The deal attributes, in the order of ``DealAttrs``'s fields and of ``deal_event_of``."""
KIND_NAMES = {kind: kind.name.lower() for kind in DealEventKind}
"""``DealEventKind`` -> its text in v1's ``deals`` table values (``"created"``...)."""
KINDS = {name: kind for kind, name in KIND_NAMES.items()}


class DealStatus(IntEnum):
    """``projections.deal``'s status strings, as stored."""

    OPEN = 0
    WON = 1
    LOST = 2


STATUS_NAMES = {DealStatus.OPEN: OPEN, DealStatus.WON: WON, DealStatus.LOST: LOST}
STATUSES = {name: status for status, name in STATUS_NAMES.items()}


class DealAttrs(msgspec.Struct, array_like=True):
    """The deal attributes one event carried (``None``: absent), ``amount`` in micro-units;
    ``probability`` as the client sent it (0 to 1), until the v2 fold makes it exact."""

    rep_id: str | None = None
    team_id: str | None = None
    customer_id: str | None = None
    amount: int | None = None
    channel: str | None = None
    segment: str | None = None
    probability: float | int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The attributes present, in ``ATTRIBUTE_NAMES`` order (``deal_event_of``'s order)."""
        present = ((name, getattr(self, name)) for name in ATTRIBUTE_NAMES)
        return {name: value for name, value in present if value is not None}


def deal_attrs_of(attrs: Mapping[str, Any]) -> DealAttrs:
    """Refuses what ``DealAttrs`` cannot hold: unknown names, an explicit ``None``."""
    unknown = set(attrs) - set(ATTRIBUTE_NAMES)
    if unknown:
        raise ValueError(f"not deal attributes: {sorted(unknown)}")
    if any(value is None for value in attrs.values()):
        raise ValueError("a deal attribute is null: contract section 1 refuses that")
    return DealAttrs(**attrs)


class DealEventRecord(msgspec.Struct, array_like=True):
    """One event of a deal as its fold keeps it; ``seq`` is its deal-events offset."""

    event_id: str
    at_us: int
    seq: int
    kind: DealEventKind
    attrs: DealAttrs


class DealSummary(msgspec.Struct, array_like=True):
    """A closed deal whose events are all below the horizon, folded (design §8).

    The state is ``projections.deal.DealState`` field for field, so an event folds on top of it
    exactly as on top of the events; ``event_ids`` still recognise a duplicate; ``last_seq`` and
    ``last_at_us`` tell a later event that arrives out of order (beyond retention, counted).
    """

    status: DealStatus
    created_at: int | None
    won_at: int | None
    lost_at: int | None
    attrs: DealAttrs
    event_ids: list[str]
    last_seq: int
    last_at_us: int


class DealRecord(msgspec.Struct, array_like=True):
    """The ``deals`` value: a deal's events in ``seq`` order, after its ``base`` if summarised.

    A summarised deal is a record with a ``base`` and no events; a later event is appended and
    folds on top of the base. ``ix_day`` is the day under which ``deal_ix`` lists the deal
    (``None``: not listed), so a reopened deal's entry can be deleted without a refold.
    """

    events: list[DealEventRecord] = []
    base: DealSummary | None = None
    ix_day: int | None = None


class WinState(msgspec.Struct, array_like=True):
    """One win state of one deal as a customer was sent it (``won_at`` None: no longer a win).

    ``position`` orders the customer-wins changes (``streams.customer_wins.position``);
    ``source_offset`` the deal's own states. Contract v2's ``segment`` is appended here.
    """

    position: int
    source_offset: int
    won_at: int | None = None
    rep_id: str = ""
    team_id: str = ""
    channel: str | None = None


class CustomerRecord(msgspec.Struct, array_like=True):
    """The ``customers`` value: per deal id, the win states received, in arrival order."""

    deals: dict[str, list[WinState]] = {}


class SeenDay(msgspec.Struct, array_like=True):
    """The ``seen`` value of (UTC day, routing key): event id -> offset it was first seen at."""

    first: dict[str, int] = {}


class PartitionMeta(msgspec.Struct, array_like=True):
    """Where a partition's state stands (``meta``): the checkpoint's sequence number, the next
    offset of each input, each input's stream time (max ``occurred_at``, µs), and the last
    snapshot written ((generation, seq), ``None``: none yet)."""

    checkpoint_seq: int = 0
    offsets: dict[str, int] = {}
    stream_times: dict[str, int] = {}
    snapshot: tuple[int, int] | None = None


Record = DealRecord | DealSummary | CustomerRecord | SeenDay | PartitionMeta

# fold-facing conversions


def deal_event_of_record(event: DealEventRecord) -> tuple[str, DealEvent]:
    """(event id, the ``DealEvent`` ``projections.deal`` folds)."""
    return event.event_id, DealEvent(event.at_us, event.seq, event.kind, event.attrs.as_dict())


def record_of_deal_event(event_id: str, event: DealEvent) -> DealEventRecord:
    return DealEventRecord(event_id, event.at_us, event.seq, event.kind, deal_attrs_of(event.attrs))


def deal_state_of(summary: DealSummary) -> DealState:
    """The fold state a summary stands for (a fresh one: the fold mutates it)."""
    return DealState(
        status=STATUS_NAMES[summary.status],
        created_at=summary.created_at,
        won_at=summary.won_at,
        lost_at=summary.lost_at,
        attrs=summary.attrs.as_dict(),
    )


def summary_of(record: DealRecord) -> DealSummary:
    """The summary of a record without a base: its events folded, their ids and last instants."""
    if record.base is not None:
        raise ValueError("a record on top of a summary is summarised by the deal fold")
    if not record.events:
        raise ValueError("a deal without events has nothing to summarise")
    state = fold_deal(event for _, event in map(deal_event_of_record, record.events))
    return DealSummary(
        status=STATUSES[state.status],
        created_at=state.created_at,
        won_at=state.won_at,
        lost_at=state.lost_at,
        attrs=deal_attrs_of(state.attrs or {}),
        event_ids=[event.event_id for event in record.events],
        last_seq=max(event.seq for event in record.events),
        last_at_us=max(event.at_us for event in record.events),
    )


def win_state_of(position: int, source_offset: int, win: CustomerWin | None) -> WinState:
    if win is None:
        return WinState(position, source_offset)
    return WinState(position, source_offset, win.won_at, win.rep_id, win.team_id, win.channel)


def customer_win_of(deal_id: str, state: WinState) -> CustomerWin | None:
    """The ``CustomerWin`` a win state offers its customer, ``None`` if it is no longer a win."""
    if state.won_at is None:
        return None
    return CustomerWin(state.won_at, deal_id, state.rep_id, state.team_id, state.channel)


# byte codec


def encode_record(value: Record) -> bytes:
    """Bytes of a record; ints outside int64, also inside lists (a customer-wins position is
    offset × 4096), are written as decimal strings (``projections.state_types.StateCodec``)."""
    return codec_of(type(value)).encode(value)


def decode_record(kind: type, data: bytes) -> Any:
    """The ``kind`` value stored as ``data`` (``StateFormatError`` if it is not one)."""
    return codec_of(kind).decode(data)
