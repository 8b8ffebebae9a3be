"""The values the folds keep in their ``deals`` and ``customers`` tables, named.

Why: the tables hold JSON arrays (``streams.state.tables``), and code that read them by position
(``raw[4] if len(raw) > 4``) hid what each element is. Each shape here is decoded once where a
fold reads a value (``from_wire``) and written back as exactly the array it was read from
(``to_wire``), so the stored bytes stay those of earlier releases (pinned by
``tests/unit/streams/test_fold_values.py``):

- ``deals``: ``{"events": [[event_id, at_us, seq, kind, {attrs}], ...]}`` in ``seq`` order,
  ``kind`` the lower-case name of its ``DealEventKind``;
- ``customers``: ``{deal_id: [[position, source_offset, win | null], ...]}``, the win states a
  customer was sent, per deal in arrival order;
- a win (also inside customer-wins messages): ``[won_at, rep_id, team_id, channel]``, with
  contract v2's segment appended only when the deal has one, so a v1 win keeps its bytes.

The ``seen`` table's values are ``streams.retention.SeenId``s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from projections.deal import CustomerWin, DealEvent
from projections.state_records import KIND_NAMES, KINDS


def deal_events_from_wire(value: Mapping[str, list] | None) -> dict[str, DealEvent]:
    """A ``deals`` value's events by event id (none for a deal not stored yet)."""
    if not value:
        return {}
    events = {}
    for event_id, at_us, seq, kind, attrs in value["events"]:
        events[event_id] = DealEvent(at_us, seq, KINDS[kind], attrs)
    return events


def deal_events_to_wire(events: Mapping[str, DealEvent]) -> dict[str, list]:
    """The ``deals`` value of a deal's events, in ``seq`` order."""
    ordered = sorted(events, key=lambda event_id: events[event_id].seq)
    return {"events": [_deal_event_to_wire(event_id, events[event_id]) for event_id in ordered]}


def _deal_event_to_wire(event_id: str, event: DealEvent) -> list:
    return [event_id, event.at_us, event.seq, KIND_NAMES[event.kind], dict(event.attrs)]


class WinArray(NamedTuple):
    """A win as its array holds it; the segment is absent from a v1 win."""

    won_at: int
    rep_id: str
    team_id: str
    channel: str | None
    segment: str | None = None


WIN_ELEMENTS = 5
"""The elements of a ``WinArray``; a later format may append more."""


def win_to_wire(win: CustomerWin | None) -> list | None:
    """The array of a win (``None``: no win), four elements unless it has a segment."""
    if win is None:
        return None
    raw = [win.won_at, win.rep_id, win.team_id, win.channel]
    if win.segment is not None:
        raw.append(win.segment)
    return raw


def win_from_wire(deal_id: str, raw: list | tuple | None) -> CustomerWin | None:
    """The win of ``deal_id`` an array holds (``None``: no win); ``TypeError`` for fewer than
    four elements. Elements past the segment, which a later format may append, are ignored."""
    if raw is None:
        return None
    win = WinArray(*raw[:WIN_ELEMENTS])
    return CustomerWin(win.won_at, deal_id, win.rep_id, win.team_id, win.channel, win.segment)


class DealWinState(NamedTuple):
    """One win state of one deal as its customer was sent it.

    ``position`` is where the change sits on customer-wins (``streams.customer_wins.position``):
    it orders a customer's changes and recognises a replayed one. ``source_offset`` (the deal
    event's offset) orders the states of one deal. ``win`` ``None``: no longer a win there.
    """

    position: int
    source_offset: int
    win: CustomerWin | None

    @classmethod
    def from_wire(cls, deal_id: str, raw: list) -> DealWinState:
        position, source_offset, win = raw
        return cls(position, source_offset, win_from_wire(deal_id, win))

    def to_wire(self) -> list:
        return [self.position, self.source_offset, win_to_wire(self.win)]


CustomerHistory = dict[str, list[DealWinState]]
"""A customer's win states per deal id, in arrival order."""


def customer_history_from_wire(value: Mapping[str, list] | None) -> CustomerHistory:
    """A ``customers`` value, decoded (empty for a customer not stored yet)."""
    return {
        deal_id: [DealWinState.from_wire(deal_id, raw) for raw in states]
        for deal_id, states in (value or {}).items()
    }


def customer_history_to_wire(history: CustomerHistory) -> dict[str, list]:
    return {deal_id: [state.to_wire() for state in states] for deal_id, states in history.items()}
