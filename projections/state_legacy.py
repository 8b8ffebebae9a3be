"""Today's Faust table values (``streams.folds``, JSON) to the typed records of engine v2, and back.

Why: step 5 of design state-engine-v2 swaps the storage under the folds. If every value the
tables can hold converts to a typed record and back to the very same value, a fold written
against the typed records can be checked against today's fold on the same input, value for value.

- ``deals``: ``{"events": [[event_id, at_us, seq, kind, {attr: value}], ...]}``;
- ``customers``: ``{deal_id: [[position, source_offset, [won_at, rep, team, channel] | null]]}``;
- ``seen-events``: ``["routing key", "event id"] -> first offset``, one entry per event id. v2
  groups them by (UTC day, routing key); the day is the event's, not in today's entry, so the
  caller says which day each entry belongs to.

A record field today's shape cannot hold (a deal's summary ``base``) refuses to convert back;
``ix_day`` is an index of the v2 fold, dropped by the way back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from events.errors import CorruptRecord
from projections.state_records import (
    KIND_NAMES,
    KINDS,
    CustomerRecord,
    DealEventRecord,
    DealRecord,
    SeenDay,
    WinState,
    deal_attrs_of,
)

SeenGroup = tuple[int, str]
"""(UTC day, routing key): the key of one ``SeenDay``."""


class LegacyShapeError(CorruptRecord):
    """A table value that is not of the shape ``streams.folds`` writes."""


def _int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise LegacyShapeError(f"{what} is not an int: {value!r}")
    return value


def deal_record_from_json(value: Mapping[str, Any]) -> DealRecord:
    """A ``deals`` table value as a ``DealRecord`` (events kept in their stored order)."""
    events = []
    for event in value["events"]:
        event_id, at_us, seq, kind, attrs = event
        if kind not in KINDS:
            raise LegacyShapeError(f"unknown deal event kind {kind!r}")
        events.append(
            DealEventRecord(
                event_id, _int(at_us, "at_us"), _int(seq, "seq"), KINDS[kind], deal_attrs_of(attrs)
            )
        )
    return DealRecord(events)


def deal_record_to_json(record: DealRecord) -> dict[str, Any]:
    """Inverse of ``deal_record_from_json``; attributes in ``deal_event_of``'s order."""
    if record.base is not None:
        raise LegacyShapeError("a summarised deal has no v1 table value")
    return {
        "events": [
            [e.event_id, e.at_us, e.seq, KIND_NAMES[e.kind], e.attrs.as_dict()]
            for e in record.events
        ]
    }


def _win_state_from_json(state: list) -> WinState:
    position, source_offset, win = state
    position, source_offset = _int(position, "position"), _int(source_offset, "source offset")
    if win is None:
        return WinState(position, source_offset)
    won_at, rep_id, team_id, channel = win
    return WinState(position, source_offset, _int(won_at, "won_at"), rep_id, team_id, channel)


def _win_state_to_json(state: WinState) -> list:
    win = None
    if state.won_at is not None:
        win = [state.won_at, state.rep_id, state.team_id, state.channel]
    return [state.position, state.source_offset, win]


def customer_record_from_json(value: Mapping[str, list]) -> CustomerRecord:
    """A ``customers`` table value as a ``CustomerRecord`` (deal and state order kept)."""
    return CustomerRecord(
        {deal: [_win_state_from_json(s) for s in states] for deal, states in value.items()}
    )


def customer_record_to_json(record: CustomerRecord) -> dict[str, list]:
    """Inverse of ``customer_record_from_json``."""
    return {deal: [_win_state_to_json(s) for s in states] for deal, states in record.deals.items()}


def seen_entry_key(routing_key: str, event_id: str) -> str:
    """Today's ``seen-events`` key (``streams.routing.composite_key``, without importing Faust)."""
    return orjson.dumps([routing_key, event_id]).decode()


def seen_days_from_json(
    entries: Iterable[tuple[str, int]], day_of: Callable[[str, str], int]
) -> dict[SeenGroup, SeenDay]:
    """``seen-events`` entries grouped as v2 keeps them; ``day_of(routing_key, event_id)`` is
    the UTC day of that event."""
    days: dict[SeenGroup, SeenDay] = {}
    for key, offset in entries:
        parsed = orjson.loads(key)
        if not (isinstance(parsed, list) and len(parsed) == 2):
            raise LegacyShapeError(f"not a seen-events key: {key!r}")
        routing_key, event_id = parsed
        group = (day_of(routing_key, event_id), routing_key)
        days.setdefault(group, SeenDay()).first[event_id] = _int(offset, "offset")
    return days


def seen_entries_to_json(days: Mapping[SeenGroup, SeenDay]) -> dict[str, int]:
    """Inverse of ``seen_days_from_json``: the ``seen-events`` entries, by today's key."""
    return {
        seen_entry_key(routing_key, event_id): offset
        for (_, routing_key), seen in days.items()
        for event_id, offset in seen.first.items()
    }
