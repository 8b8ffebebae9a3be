"""Which (scope, id) a deal, acquisition, call or cost touches, and how tallies retract exactly."""

import pytest

from projections.deal import CustomerWin, DealContribution
from projections.effects import (
    COMPANY_KEY,
    QuarterHourCorrections,
    add_acquisition,
    add_call,
    add_deal,
    call_spread,
    cost_spread,
    deal_change,
    scope_key,
    split_scope_key,
)
from projections.tally import Tally, WindowTotals, to_micros
from projections.timebase import quarter_of
from tests.support.factories import us

AT = us("2026-02-14T15:20:00Z")
Q = quarter_of(AT)


def deal(
    channel="email",
    customer="c1",
    created=AT,
    won=None,
    lost=None,
    amount=5_000_000,
    segment=None,
    probability=0,
):
    return DealContribution(
        "r1", "t1", channel, customer, amount, created, won, lost, segment, probability
    )


def touched(corrections: QuarterHourCorrections) -> dict[str, dict]:
    """key -> the single quarter's tally as json, for non-empty keys only."""
    return {key: {q: t.to_json() for q, t in quarters} for key, quarters in corrections.items()}


@pytest.mark.parametrize(
    ("scope", "scope_id", "key"),
    [("rep", "r1", "rep|r1"), ("company", "", "company|"), ("channel", "a|b", "channel|a|b")],
)
def test_scope_keys_round_trip(scope, scope_id, key):
    assert scope_key(scope, scope_id) == key
    assert split_scope_key(key) == (scope, scope_id)


@pytest.mark.parametrize(
    ("channel", "segment", "keys"),
    [
        ("email", None, ["rep|r1", "team|t1", COMPANY_KEY, "channel|email"]),
        (None, None, ["rep|r1", "team|t1", COMPANY_KEY]),
        (None, "smb", ["rep|r1", "team|t1", COMPANY_KEY, "segment|smb"]),
    ],
)
def test_a_deal_counts_for_its_rep_team_company_and_channel_and_segment_if_any(
    channel, segment, keys
):
    corrections = QuarterHourCorrections()
    add_deal(corrections, deal(channel=channel, segment=segment, won=AT + 1))
    counts = {
        "opportunities": 1,
        "pipeline_created": 5_000_000,
        "deals_won": 1,
        "revenue": 5_000_000,
        "won_with_created": 1,
        "won_age_us": 1,
    }  # open at creation and closed in the same quarter: no open-stock change is left
    expected = [counts, {"r1": 2}, {"c1": 1}]
    assert touched(corrections) == {key: {Q: expected} for key in keys}


def test_an_open_deal_adds_to_the_stock_where_it_is_created_and_takes_back_where_it_closes():
    later = AT + 3 * 900 * 10**6
    corrections = QuarterHourCorrections()
    add_deal(corrections, deal(won=later, probability=250_000))
    quarters = dict(dict(corrections.items())["rep|r1"])
    assert {k: v for k, v in quarters[Q].counts.items() if k.startswith("open")} == {
        "open_delta": 1,
        "open_amount_delta": 5_000_000,
        "open_weighted_delta": 5_000_000 * 250_000,
    }
    assert {k: v for k, v in quarters[Q + 3].counts.items() if k.startswith("open")} == {
        "open_delta": -1,
        "open_amount_delta": -5_000_000,
        "open_weighted_delta": -5_000_000 * 250_000,
    }


def test_a_deal_won_before_it_was_created_is_never_open_and_waits_zero_seconds():
    earlier = AT - 2 * 900 * 10**6
    corrections = QuarterHourCorrections()
    add_deal(corrections, deal(won=earlier))
    counts = {q: t.counts for q, t in dict(corrections.items())["rep|r1"]}
    assert not any(k.startswith("open") for c in counts.values() for k in c)
    assert "won_age_us" not in counts[Q - 2]  # max(0, won_at - created_at) = 0: nothing added
    assert counts[Q - 2]["won_with_created"] == 1


@pytest.mark.parametrize(
    ("milestones", "counts"),
    [
        (
            dict(created=AT),
            {
                "opportunities": 1,
                "pipeline_created": 5_000_000,
                "open_delta": 1,
                "open_amount_delta": 5_000_000,
            },
        ),
        (dict(created=None, won=AT), {"deals_won": 1, "revenue": 5_000_000}),
        (dict(created=None, lost=AT), {"deals_lost": 1}),
        (dict(created=None), None),
    ],
)
def test_each_milestone_adds_its_count_and_marks_the_rep_active(milestones, counts):
    corrections = QuarterHourCorrections()
    add_deal(corrections, deal(**milestones))
    if counts is None:
        assert corrections.is_empty()
    else:
        assert touched(corrections)["rep|r1"][Q][:2] == [counts, {"r1": 1}]


def test_a_won_deal_without_customer_adds_revenue_but_no_customer():
    corrections = QuarterHourCorrections()
    add_deal(corrections, deal(customer=None, created=None, won=AT))
    assert touched(corrections)[COMPANY_KEY][Q][2] == {}


def test_a_counted_nowhere_deal_adds_nothing():
    corrections = QuarterHourCorrections()
    add_deal(corrections, None)
    add_acquisition(corrections, None)
    assert corrections.is_empty()


def test_retracting_a_deal_cancels_it_exactly_and_drops_the_keys():
    corrections = QuarterHourCorrections()
    add_deal(corrections, deal(won=AT + 3600 * 10**6))
    add_deal(corrections, deal(won=AT + 3600 * 10**6), -1)
    assert corrections.is_empty()
    assert list(corrections.items()) == []


def test_a_moved_win_is_a_retraction_in_one_quarter_and_an_addition_in_another():
    later = AT + 900 * 10**6
    corrections = QuarterHourCorrections()
    add_deal(corrections, deal(created=None, won=AT), -1)
    add_deal(corrections, deal(created=None, won=later))
    quarters = dict(dict(corrections.items())["team|t1"])
    assert quarters[Q].counts == {"deals_won": -1, "revenue": -5_000_000}
    assert quarters[Q + 1].counts == {"deals_won": 1, "revenue": 5_000_000}


@pytest.mark.parametrize(
    ("channel", "keys"),
    [
        ("event", ["rep|r1", "team|t1", COMPANY_KEY, "channel|event"]),
        (None, ["rep|r1", "team|t1", COMPANY_KEY]),
    ],
)
def test_an_acquisition_counts_a_new_customer_where_its_deal_counts(channel, keys):
    corrections = QuarterHourCorrections()
    add_acquisition(corrections, CustomerWin(AT, "d-1", "r1", "t1", channel))
    assert touched(corrections) == {key: {Q: [{"new_customers": 1}, {}, {}]} for key in keys}


def test_a_call_counts_for_rep_team_and_company_never_a_channel():
    corrections = QuarterHourCorrections()
    add_call(corrections, AT, "r1", "t1")
    add_call(corrections, AT + 1, "r1", "t1")
    assert touched(corrections) == {
        key: {Q: [{"calls": 2}, {"r1": 2}, {}]} for key in ["rep|r1", "team|t1", COMPANY_KEY]
    }


@pytest.mark.parametrize(
    ("team", "channel", "keys"),
    [
        (None, None, [COMPANY_KEY]),
        ("t1", None, [COMPANY_KEY, "team|t1"]),
        (None, "linkedin", [COMPANY_KEY, "channel|linkedin"]),
        ("t1", "linkedin", [COMPANY_KEY, "team|t1", "channel|linkedin"]),
    ],
)
@pytest.mark.parametrize("category", ["marketing", "sales"])
def test_a_cost_counts_for_the_company_and_its_team_and_channel_if_named(
    team, channel, keys, category
):
    corrections = QuarterHourCorrections()
    corrections.include(cost_spread(AT, category, 1_500_000, team, channel))
    assert touched(corrections) == {
        key: {Q: [{f"cost_{category}": 1_500_000}, {}, {}]} for key in keys
    }


@pytest.mark.parametrize(
    ("amount", "micros"),
    [(0, 0), (0.1, 100_000), (1234.567891, 1_234_567_891), (10**12, 10**18), (0.0000005, 0)],
)
def test_amounts_become_integer_micro_units(amount, micros):
    assert to_micros(amount) == micros
    assert isinstance(to_micros(amount), int)


def test_a_tally_is_a_multiset_whose_zero_entries_vanish():
    tally = Tally()
    tally.rep("r1", 1)
    tally.rep("r1", 1)
    tally.rep("r1", -1)
    assert tally.reps == {"r1": 1}
    tally.rep("r1", -1)
    tally.count("calls", 0)
    assert tally.is_empty()
    assert tally == Tally()


def test_adding_a_tally_with_sign_minus_one_retracts_it_exactly():
    added = Tally({"revenue": 7, "calls": 1}, {"r1": 1}, {"c1": 2})
    bucket = Tally({"revenue": 3}, {"r2": 1}, {})
    bucket.add(added)
    bucket.add(added, -1)
    assert bucket == Tally({"revenue": 3}, {"r2": 1}, {})


@pytest.mark.parametrize("raw", [None, [], [{"calls": 1}, {"r": 1}, {"c": 1}]])
def test_a_tally_round_trips_through_json(raw):
    tally = Tally.from_json(raw)
    assert Tally.from_json(tally.to_json()) == tally
    assert tally.is_empty() is (not raw)


def test_window_totals_union_members_skip_empty_buckets_and_ignore_negative_members():
    window = WindowTotals()
    window.include(Tally())
    assert not window.touched
    window.include(Tally({"calls": 2}, {"r1": 1, "r2": -1}, {"c1": 1}))
    window.include(Tally({"calls": 3}, {"r1": 4}, {"c1": 1, "c2": 1}))
    assert window.touched
    assert (window.counts, window.reps, window.customers) == ({"calls": 5}, {"r1"}, {"c1", "c2"})


def test_merging_corrections_adds_or_retracts_all_keys():
    one, other = QuarterHourCorrections(), QuarterHourCorrections()
    add_call(one, AT, "r1", "t1")
    add_call(other, AT, "r1", "t1")
    one.merge(other)
    assert touched(one)["rep|r1"] == {Q: [{"calls": 2}, {"r1": 2}, {}]}
    one.merge(other, -1)
    one.merge(other, -1)
    assert one.is_empty()


def summed(spreads) -> dict[str, dict]:
    """What spreads add up to per key, shaped like ``touched``."""
    corrections = QuarterHourCorrections()
    for spread in spreads:
        corrections.include(spread)
    return touched(corrections)


def retract_then_add(before, after) -> dict[str, dict]:
    corrections = QuarterHourCorrections()
    add_deal(corrections, before, -1)
    add_deal(corrections, after)
    return touched(corrections)


LATER = AT + 2 * 3600 * 10**6
DEAL_CHANGES = {
    "created": (None, deal()),
    "forgotten": (deal(won=LATER), None),
    "won": (deal(), deal(won=LATER)),
    "won in its creation's quarter": (deal(), deal(won=AT + 60 * 10**6)),
    "win moved": (deal(won=LATER), deal(won=LATER + 900 * 10**6)),
    "lost instead of won": (deal(won=LATER), deal(lost=LATER)),
    "amount corrected": (deal(won=LATER), deal(won=LATER, amount=7_000_000)),
    "rep moved": (deal(), DealContribution("r2", "t1", "email", "c1", 5_000_000, AT, None, None)),
    "team and channel moved": (
        deal(won=LATER),
        DealContribution("r1", "t2", "web", "c1", 5_000_000, AT, LATER, None, "smb"),
    ),
    "segment added": (deal(), deal(segment="smb", probability=400_000)),
    "reopened": (deal(won=LATER), deal()),
}


@pytest.mark.parametrize(("before", "after"), DEAL_CHANGES.values(), ids=DEAL_CHANGES.keys())
def test_a_deal_change_is_the_retraction_of_the_old_deal_plus_the_new_one(before, after):
    assert summed(deal_change(before, after)) == retract_then_add(before, after)


@pytest.mark.parametrize(("before", "after"), DEAL_CHANGES.values(), ids=DEAL_CHANGES.keys())
def test_a_deal_change_names_each_key_once_and_only_with_tallies_that_change_something(
    before, after
):
    spreads = deal_change(before, after)
    keys = [key for spread in spreads for key in spread.keys]
    assert len(keys) == len(set(keys))
    assert all(not t.is_empty() for spread in spreads for _, t in spread.quarters)
    assert all(spread.keys and spread.quarters for spread in spreads)


def test_an_unchanged_deal_changes_nothing():
    assert deal_change(deal(won=LATER), deal(won=LATER)) == []
    assert deal_change(None, None) == []


def test_a_call_and_a_cost_are_one_tally_each_of_their_keys_shares():
    call = call_spread(AT, "r1", "t1")
    assert call.keys == ["rep|r1", "team|t1", COMPANY_KEY]
    assert [(q, t.to_json()) for q, t in call.quarters] == [(Q, [{"calls": 1}, {"r1": 1}, {}])]
    cost = cost_spread(AT, "marketing", 9, None, "web", "smb")
    assert cost.keys == [COMPANY_KEY, "channel|web", "segment|smb"]
    assert [(q, t.to_json()) for q, t in cost.quarters] == [(Q, [{"cost_marketing": 9}, {}, {}])]


def test_a_cost_of_zero_changes_no_quarter():
    assert cost_spread(AT, "sales", 0, "t1", None).quarters == []
