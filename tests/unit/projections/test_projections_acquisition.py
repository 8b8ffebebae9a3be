"""Contract section 2, rule 4: a customer is acquired at its earliest win, ties by deal_id."""

import itertools

import pytest

from projections.deal import CustomerWin, acquiring_win, customer_win_of
from tests.support.factories import (
    contribution,
    cost,
    created,
    kpis_at,
    lost,
    reopened,
    store_of,
    ts,
    updated,
)
from tests.support.factories import won as won_event

NOW = ts("2026-02-14T15:20:00Z")
LATE = "2026-02-12T09:00:00Z"  # inside 7d at NOW
EARLY = "2026-02-05T09:00:00Z"  # inside mtd, outside 7d


def _win(won_at: int, deal_id: str, rep: str = "r") -> CustomerWin:
    return CustomerWin(won_at, deal_id, rep, "t", None)


@pytest.mark.parametrize(
    ("wins", "expected"),
    [
        pytest.param([], None, id="no-win"),
        pytest.param([_win(5, "d-1")], _win(5, "d-1"), id="single"),
        pytest.param([_win(5, "d-1"), _win(3, "d-2")], _win(3, "d-2"), id="earliest"),
        pytest.param([_win(3, "d-2"), _win(3, "d-1")], _win(3, "d-1"), id="tie-smaller-id"),
        pytest.param([_win(3, "d-9"), _win(3, "d-10")], _win(3, "d-10"), id="tie-string-order"),
        pytest.param([_win(4, "d-1"), _win(3, "d-9")], _win(3, "d-9"), id="time-before-id"),
    ],
)
def test_acquiring_win_is_the_earliest_then_the_smallest_deal_id(wins, expected):
    assert acquiring_win(wins) == expected
    assert acquiring_win(reversed(wins)) == expected


@pytest.mark.parametrize(
    ("arrivals", "offered"),
    [
        pytest.param([created()], None, id="open"),
        pytest.param([created(), lost()], None, id="lost"),
        pytest.param([created(), won_event(), reopened()], None, id="reopened"),
        pytest.param([won_event(customer_id="c", amount=1)], None, id="no-owner"),
        pytest.param([created(), won_event(at=LATE)], "cust-1", id="won"),
    ],
)
def test_a_deal_offers_its_customer_a_win_only_when_it_is_won_and_attributed(arrivals, offered):
    result = customer_win_of("d-1", contribution(arrivals))
    if offered is None:
        assert result is None
    else:
        customer_id, win = result
        assert (customer_id, win.deal_id, win.rep_id, win.team_id, win.channel) == (
            offered,
            "d-1",
            "rep-1",
            "team-1",
            "email",
        )


def _deal(deal_id: str, won_at: str, rep: str, team: str, channel: str, customer="cust-1"):
    return [
        created(
            deal_id,
            "2026-01-02T09:00:00Z",
            rep_id=rep,
            team_id=team,
            channel=channel,
            customer_id=customer,
        ),
        won_event(deal_id, won_at),
    ]


def _new_customers(store, keys_and_windows) -> list[int]:
    return [kpis_at(store, key, window, NOW)["new_customers"] for key, window in keys_and_windows]


WATCHED = [
    ("rep|rep-1", "7d"),
    ("rep|rep-2", "mtd"),
    ("team|team-2", "7d"),
    ("channel|email", "mtd"),
    ("channel|linkedin", "mtd"),
    ("company|", "7d"),
    ("company|", "mtd"),
]


def test_the_first_win_acquires_the_customer():
    store = store_of(_deal("d-1", LATE, "rep-1", "team-1", "email"))
    assert _new_customers(store, [("rep|rep-1", "7d"), ("company|", "7d")]) == [1, 1]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_a_later_arriving_earlier_win_moves_the_acquisition_whatever_the_arrival_order(order):
    events = [
        *_deal("d-1", LATE, "rep-1", "team-1", "email"),
        *_deal("d-2", EARLY, "rep-2", "team-2", "linkedin"),
    ]
    store = store_of(events[i] for i in order)
    # d-2 won earlier: rep-2/team-2/linkedin acquire in early February, nobody in the last 7 days.
    assert _new_customers(store, WATCHED) == [0, 1, 0, 0, 1, 0, 1]
    assert kpis_at(store, "rep|rep-1", "7d", NOW)["customers"] == 1


@pytest.mark.parametrize("first", ["d-a", "d-b"])
def test_wins_at_the_same_instant_go_to_the_smaller_deal_id(first):
    deals = {
        "d-b": _deal("d-b", LATE, "rep-2", "team-2", "linkedin"),
        "d-a": _deal("d-a", LATE, "rep-1", "team-1", "email"),
    }
    second = "d-b" if first == "d-a" else "d-a"
    store = store_of([*deals[first], *deals[second]])
    assert _new_customers(store, [("rep|rep-1", "7d"), ("rep|rep-2", "7d")]) == [1, 0]
    assert kpis_at(store, "company|", "7d", NOW)["customers"] == 1
    assert kpis_at(store, "company|", "7d", NOW)["deals_won"] == 2


@pytest.mark.parametrize(
    "undo",
    [
        pytest.param(reopened("d-2", "2026-02-13T09:00:00Z"), id="reopened"),
        pytest.param(lost("d-2", "2026-02-13T09:00:00Z"), id="lost-after-win"),
        pytest.param(reopened("d-2", "2026-02-06T09:00:00Z"), id="reopened-long-ago"),
    ],
)
def test_undoing_the_acquiring_win_moves_the_acquisition_to_the_next_win(undo):
    store = store_of(
        [
            *_deal("d-1", LATE, "rep-1", "team-1", "email"),
            *_deal("d-2", EARLY, "rep-2", "team-2", "linkedin"),
            undo,
        ]
    )
    assert _new_customers(store, WATCHED) == [1, 0, 0, 1, 0, 1, 1]


@pytest.mark.parametrize(
    "undo",
    [
        pytest.param(reopened("d-1", "2026-02-13T09:00:00Z"), id="reopened"),
        pytest.param(lost("d-1", "2026-02-13T09:00:00Z"), id="lost"),
    ],
)
def test_a_customer_whose_only_win_is_undone_is_not_acquired(undo):
    store = store_of([*_deal("d-1", LATE, "rep-1", "team-1", "email"), undo])
    for key in ("rep|rep-1", "team|team-1", "channel|email", "company|"):
        kpis = kpis_at(store, key, "qtd", NOW)
        assert (kpis["new_customers"], kpis["customers"], kpis["deals_won"]) == (0, 0, 0)


def test_moving_the_acquiring_deal_to_another_customer_lets_both_customers_be_acquired():
    store = store_of(
        [
            *_deal("d-1", LATE, "rep-1", "team-1", "email"),
            *_deal("d-2", EARLY, "rep-2", "team-2", "linkedin"),
            updated("d-2", "2026-02-13T09:00:00Z", customer_id="cust-2"),
        ]
    )
    assert _new_customers(store, WATCHED) == [1, 1, 0, 1, 1, 1, 2]


def test_re_assigning_the_acquiring_deal_moves_the_acquisition_to_the_new_owner():
    store = store_of(
        [
            *_deal("d-1", LATE, "rep-1", "team-1", "email"),
            updated("d-1", "2026-02-13T09:00:00Z", rep_id="rep-3", channel="event"),
        ]
    )
    assert _new_customers(
        store, [("rep|rep-3", "7d"), ("channel|event", "7d"), ("team|team-1", "7d")]
    ) == [1, 1, 1]
    assert kpis_at(store, "rep|rep-1", "qtd", NOW) is None
    assert kpis_at(store, "channel|email", "qtd", NOW) is None


def test_a_customer_acquired_last_quarter_is_a_customer_but_not_new_this_quarter():
    store = store_of(
        [
            *_deal("d-old", "2025-12-20T09:00:00Z", "rep-1", "team-1", "email"),
            *_deal("d-1", LATE, "rep-1", "team-1", "email"),
        ]
    )
    kpis = kpis_at(store, "rep|rep-1", "qtd", NOW)
    assert (kpis["customers"], kpis["new_customers"], kpis["deals_won"]) == (1, 0, 1)
    assert kpis["average_basket"] == 100.0


def test_cac_divides_all_costs_by_the_customers_acquired_in_the_window():
    store = store_of(
        [
            *_deal("d-1", LATE, "rep-1", "team-1", "email"),
            *_deal("d-2", LATE, "rep-2", "team-1", "email", customer="cust-2"),
            cost("2026-02-13T09:00:00Z", amount=300, category="marketing", team_id="team-1"),
            cost("2026-02-13T10:00:00Z", amount=100.5, category="sales", team_id="team-1"),
        ]
    )
    kpis = kpis_at(store, "team|team-1", "7d", NOW)
    assert (kpis["new_customers"], kpis["cost_marketing"], kpis["cost_sales"]) == (2, 300.0, 100.5)
    assert kpis["cac"] == pytest.approx(200.25, rel=1e-12)
