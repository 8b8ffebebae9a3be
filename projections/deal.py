"""Deal folding (contract section 2, rules 1-3).

A deal's state is the fold of its own events sorted by event time, ties by arrival. The fold is
recomputed from the deal's remembered events whenever one arrives, so a late event (a won before
its created, a reopen, a re-assignment) lands exactly where a recomputation from scratch puts it.
What the deal contributes to KPIs is reduced to a small, comparable ``DealContribution``: the
streaming core emits the difference between the old and the new contribution as a correction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

OPEN, WON, LOST = "open", "won", "lost"
ATTRIBUTES = ("rep_id", "team_id", "customer_id", "amount", "channel")


class DealEventKind(IntEnum):
    """What a deal event does to its deal. The numbers are stored (engine v2's deal records,
    ``projections.state_records``); v1 tables store ``name.lower()`` (``streams.fold_values``)."""

    CREATED = 0
    UPDATED = 1
    WON = 2
    LOST = 3
    REOPENED = 4


@dataclass(frozen=True, slots=True)
class DealEvent:
    """One event of a deal as the fold needs it.

    ``seq`` is the arrival order (the offset in the deal's partition); ``attrs`` holds only the
    deal attributes the event carried, with ``amount`` already in micro-units. A ``kind`` read
    back as its bare number still folds (``DealEventKind`` is an ``IntEnum``).
    """

    at_us: int
    seq: int
    kind: DealEventKind
    attrs: Mapping[str, Any]


@dataclass(slots=True)
class DealState:
    status: str = OPEN
    created_at: int | None = None
    won_at: int | None = None
    lost_at: int | None = None
    attrs: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class DealContribution:
    """Everything about a deal that any KPI reads, after attribution to its final owners."""

    rep_id: str
    team_id: str
    channel: str | None
    customer_id: str | None
    amount: int
    created_at: int | None
    won_at: int | None
    lost_at: int | None
    segment: str | None = None
    """(v2) Customer type: the deal also counts in this segment's scope."""
    probability: int = 0
    """(v2) Final probability of closing in parts per million (absent: 0)."""


def fold_deal(events: Iterable[DealEvent]) -> DealState:
    state = DealState(attrs={})
    for event in sorted(events, key=lambda e: (e.at_us, e.seq)):
        _apply(state, event)
    return state


def _apply(state: DealState, event: DealEvent) -> None:
    assert state.attrs is not None
    state.attrs.update(event.attrs)
    _STATUS_MOVES[event.kind](state, event.at_us)


def _created(state: DealState, at_us: int) -> None:
    state.created_at = at_us


def _updated(state: DealState, at_us: int) -> None:
    """Only attributes change."""


def _won(state: DealState, at_us: int) -> None:
    state.status, state.won_at = WON, at_us


def _lost(state: DealState, at_us: int) -> None:
    state.status, state.lost_at = LOST, at_us


def _reopened(state: DealState, at_us: int) -> None:
    state.status, state.won_at, state.lost_at = OPEN, None, None


_STATUS_MOVES = {
    DealEventKind.CREATED: _created,
    DealEventKind.UPDATED: _updated,
    DealEventKind.WON: _won,
    DealEventKind.LOST: _lost,
    DealEventKind.REOPENED: _reopened,
}
"""What each kind does to its deal's state (a table: reading an enum member costs ~100 ns, too
much per event of every refold)."""


def contribution_of(state: DealState) -> DealContribution | None:
    """``None`` for a deal that counts nowhere (no final rep or team)."""
    attrs = state.attrs or {}
    rep_id, team_id = attrs.get("rep_id"), attrs.get("team_id")
    if not rep_id or not team_id:
        return None
    return DealContribution(
        rep_id=rep_id,
        team_id=team_id,
        channel=attrs.get("channel"),
        customer_id=attrs.get("customer_id"),
        amount=attrs.get("amount") or 0,
        created_at=state.created_at,
        won_at=state.won_at if state.status == WON else None,
        lost_at=state.lost_at if state.status == LOST else None,
        segment=attrs.get("segment"),
        probability=attrs.get("probability") or 0,
    )


@dataclass(frozen=True, slots=True)
class CustomerWin:
    """A won deal as customer acquisition sees it: the earliest one acquires the customer."""

    won_at: int
    deal_id: str
    rep_id: str
    team_id: str
    channel: str | None
    segment: str | None = None

    def order(self) -> tuple[int, str]:
        return (self.won_at, self.deal_id)


class OfferedWin(NamedTuple):
    """A won deal's win as it is offered to its customer's acquisition."""

    customer_id: str
    win: CustomerWin


def customer_win_of(deal_id: str, contribution: DealContribution | None) -> OfferedWin | None:
    """The win this deal offers to its customer's acquisition, if it is won and attributed."""
    if contribution is None or contribution.won_at is None or not contribution.customer_id:
        return None
    return OfferedWin(
        contribution.customer_id,
        CustomerWin(
            won_at=contribution.won_at,
            deal_id=deal_id,
            rep_id=contribution.rep_id,
            team_id=contribution.team_id,
            channel=contribution.channel,
            segment=contribution.segment,
        ),
    )


def acquiring_win(wins: Iterable[CustomerWin]) -> CustomerWin | None:
    """Rule 4: the earliest won deal acquires the customer (ties: smaller deal_id)."""
    return min(wins, key=CustomerWin.order, default=None)
