"""Contract section 2, rule 1 (deal state) and rule 2 (attribution), on ``projections.deal``.

Each case is a deal's native events in arrival order; the expectation is the deal's state after the
fold (events sorted by occurred_at, ties by arrival) and what it contributes to KPIs.
"""

import pytest

from projections.deal import LOST, OPEN, WON, DealEvent, DealEventKind, contribution_of, fold_deal
from tests.support.factories import (
    contribution,
    created,
    deal_events,
    lost,
    reopened,
    updated,
    us,
    won,
)

T1 = "2026-02-10T09:00:00Z"
T2 = "2026-02-11T09:00:00Z"
T3 = "2026-02-12T09:00:00Z"
T4 = "2026-02-13T09:00:00Z"
INSTANTS = {1: T1, 2: T2, 3: T3, 4: T4}
KINDS = {"created": created, "updated": updated, "won": won, "lost": lost, "reopened": reopened}


def arrivals_of(script: str) -> list[dict]:
    """``"won@2 created@1"``: a won event at T2 arrives first, then a created at T1."""
    events = []
    for step in script.split():
        kind, _, instant = step.partition("@")
        events.append(KINDS[kind](at=INSTANTS[int(instant)]))
    return events


# (name, arrival order, (status, created_at, won_at, lost_at) as instant numbers)
FOLD_CASES = [
    ("created-only", "created@1", (OPEN, 1, None, None)),
    ("won-before-created", "won@2 created@1", (WON, 1, 2, None)),
    ("reopen-a-win", "created@1 won@2 reopened@3", (OPEN, 1, None, None)),
    ("reopen-a-loss", "created@1 lost@2 reopened@3", (OPEN, 1, None, None)),
    ("reopen-then-lose", "created@1 won@2 reopened@3 lost@4", (LOST, 1, None, 4)),
    ("all-reversed", "reopened@3 won@2 created@1", (OPEN, 1, None, None)),
    ("late-reopen-before-win", "created@1 won@4 reopened@3", (WON, 1, 4, None)),
    ("lost-then-won", "created@1 lost@2 won@3", (WON, 1, 3, 2)),
    ("won-twice-last-wins", "created@1 won@2 won@3", (WON, 1, 3, None)),
    ("tie-reopen-arrives-last", "created@1 won@2 reopened@2", (OPEN, 1, None, None)),
    ("tie-won-arrives-last", "created@1 reopened@2 won@2", (WON, 1, 2, None)),
    ("tie-lost-arrives-last", "created@1 won@2 lost@2", (LOST, 1, 2, 2)),
    ("tie-won-arrives-first", "created@1 lost@2 won@2", (WON, 1, 2, 2)),
    ("tie-won-and-created", "won@1 created@1", (WON, 1, 1, None)),
    ("tie-created-after-reopen", "reopened@1 created@1", (OPEN, 1, None, None)),
    ("updated-keeps-open", "created@1 updated@2", (OPEN, 1, None, None)),
    ("updated-keeps-won", "created@1 won@2 updated@3", (WON, 1, 2, None)),
    ("updated-keeps-lost", "created@1 lost@2 updated@3", (LOST, 1, None, 2)),
    ("created-again-moves-created-at", "created@1 created@3", (OPEN, 3, None, None)),
]


@pytest.mark.parametrize(
    ("script", "expected"),
    [pytest.param(script, expected, id=name) for name, script, expected in FOLD_CASES],
)
def test_the_fold_sorts_by_event_time_and_breaks_ties_by_arrival(script, expected):
    state = fold_deal(deal_events(arrivals_of(script)))
    status, *instants = expected
    assert (state.status, state.created_at, state.won_at, state.lost_at) == (
        status,
        *(None if n is None else us(INSTANTS[n]) for n in instants),
    )


@pytest.mark.parametrize(
    ("arrivals", "won_at", "lost_at"),
    [
        pytest.param([created(at=T1), lost(at=T2), won(at=T3)], T3, None, id="won-hides-lost"),
        pytest.param([created(at=T1), won(at=T2), lost(at=T3)], None, T3, id="lost-hides-won"),
        pytest.param(
            [created(at=T1), won(at=T2), reopened(at=T3), lost(at=T4)],
            None,
            T4,
            id="reopen-then-lose",
        ),
        pytest.param([created(at=T1), won(at=T2), reopened(at=T3)], None, None, id="reopened"),
    ],
)
def test_only_the_final_status_is_counted_won_or_lost(arrivals, won_at, lost_at):
    deal = contribution(arrivals)
    assert (deal.won_at, deal.lost_at) == (
        won_at and us(won_at),
        lost_at and us(lost_at),
    )


@pytest.mark.parametrize(
    ("arrivals", "amount"),
    [
        pytest.param([created(amount=100, at=T1)], 100, id="created-amount"),
        pytest.param(
            [created(amount=100, at=T1), updated(amount=150, at=T2), won(amount=200, at=T3)],
            200,
            id="amount-on-won-is-final",
        ),
        pytest.param(
            [won(amount=200, at=T3), updated(amount=150, at=T2), created(amount=100, at=T1)],
            200,
            id="amount-on-won-is-final-whatever-the-arrival-order",
        ),
        pytest.param(
            [created(amount=100, at=T1), updated(amount=150, at=T2), won(at=T3)],
            150,
            id="won-without-amount-keeps-the-last-one",
        ),
        pytest.param(
            [created(amount=100, at=T1), won(amount=200, at=T2), updated(amount=300, at=T2)],
            300,
            id="tie-update-arrives-after-won",
        ),
        pytest.param(
            [created(amount=100, at=T1), updated(amount=300, at=T2), won(amount=200, at=T2)],
            200,
            id="tie-won-arrives-after-update",
        ),
        pytest.param(
            [created(amount=0.1, at=T1), won(amount=1234.567891, at=T2)],
            1234.567891,
            id="micro-units-are-exact",
        ),
    ],
)
def test_the_amount_is_the_last_one_in_event_time_and_the_won_event_sets_it(arrivals, amount):
    assert contribution(arrivals).amount == round(amount * 1_000_000)


@pytest.mark.parametrize(
    ("arrivals", "owner"),
    [
        pytest.param([created(at=T1)], ("rep-1", "team-1", "email", "cust-1"), id="as-created"),
        pytest.param(
            [created(at=T1), updated(at=T2, rep_id="rep-2", team_id="team-2", channel="event")],
            ("rep-2", "team-2", "event", "cust-1"),
            id="re-assigned",
        ),
        pytest.param(
            [updated(at=T2, rep_id="rep-2"), created(at=T3)],
            ("rep-1", "team-1", "email", "cust-1"),
            id="later-created-overwrites-earlier-update",
        ),
        pytest.param(
            [created(at=T3), updated(at=T2, rep_id="rep-2")],
            ("rep-1", "team-1", "email", "cust-1"),
            id="late-arriving-older-update-loses",
        ),
        pytest.param(
            [created(at=T1), won(at=T2, customer_id="cust-9")],
            ("rep-1", "team-1", "email", "cust-9"),
            id="attribute-on-won",
        ),
        pytest.param(
            [created(at=T1, channel=None)], ("rep-1", "team-1", None, "cust-1"), id="no-channel"
        ),
    ],
)
def test_a_deal_is_attributed_to_its_final_rep_team_channel_and_customer(arrivals, owner):
    deal = contribution(arrivals)
    assert (deal.rep_id, deal.team_id, deal.channel, deal.customer_id) == owner


@pytest.mark.parametrize(
    "arrivals",
    [
        pytest.param([won(at=T2, customer_id="cust-1", amount=10)], id="won-only"),
        pytest.param([updated(at=T1, rep_id="rep-1"), won(at=T2)], id="rep-without-team"),
        pytest.param([updated(at=T1, team_id="team-1"), won(at=T2)], id="team-without-rep"),
        pytest.param([lost(at=T2, rep_id="rep-1", channel="email")], id="lost-without-team"),
    ],
)
def test_a_deal_without_final_rep_and_team_counts_nowhere(arrivals):
    assert contribution(arrivals) is None


def test_the_fold_does_not_depend_on_the_order_events_are_given_only_on_seq():
    events = [
        DealEvent(us(T1), 0, DealEventKind.CREATED, {"rep_id": "r", "team_id": "t", "amount": 1}),
        DealEvent(us(T2), 1, DealEventKind.WON, {"amount": 2}),
        DealEvent(us(T2), 2, DealEventKind.UPDATED, {"amount": 3}),
        DealEvent(us(T3), 3, DealEventKind.REOPENED, {}),
        DealEvent(us(T4), 4, DealEventKind.WON, {}),
    ]
    forward = contribution_of(fold_deal(events))
    assert contribution_of(fold_deal(reversed(events))) == forward
    assert (forward.amount, forward.won_at, forward.created_at) == (3, us(T4), us(T1))


def test_an_empty_deal_is_open_with_nothing_set_and_counts_nowhere():
    state = fold_deal([])
    assert (state.status, state.created_at, state.won_at, state.lost_at, state.attrs) == (
        OPEN,
        None,
        None,
        None,
        {},
    )
    assert contribution_of(state) is None
