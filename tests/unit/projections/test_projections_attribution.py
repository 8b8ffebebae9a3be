"""Contract section 2, rules 2-3 at KPI level: where a deal counts after reopen or re-assignment.

Everything goes through the from-scratch reference (``recompute`` + ``report``) with native events.
"""

import pytest

from tests.support.factories import created, kpis_at, lost, reopened, store_of, ts, updated, won

NOW = ts("2026-02-14T15:20:00Z")
OLD = {"rep": "rep|rep-1", "team": "team|team-1", "channel": "channel|email"}
NEW = {"rep": "rep|rep-2", "team": "team|team-2", "channel": "channel|linkedin"}
REASSIGN = {"rep_id": "rep-2", "team_id": "team-2", "channel": "linkedin"}
MOVED = {
    "revenue": 250.0,
    "deals_won": 1,
    "opportunities": 1,
    "customers": 1,
    "new_customers": 1,
    "active_reps": 1,
    "revenue_per_rep": 250.0,
    "average_basket": 250.0,
    "conversion_ratio": 1.0,
    "win_ratio": 1.0,
}


def _won_deal(*after_win: dict) -> list[dict]:
    return [
        created(at="2026-02-10T09:00:00Z", amount=100),
        won(at="2026-02-14T15:05:00Z", amount=250),
        *after_win,
    ]


def _subset(kpis: dict, names) -> dict:
    return {name: kpis[name] for name in names if name in kpis}


@pytest.mark.parametrize("scope", ["rep", "team", "channel"])
@pytest.mark.parametrize(
    "reassignment",
    [
        pytest.param(updated(at="2026-02-14T16:00:00Z", **REASSIGN), id="later-update"),
        pytest.param(updated(at="2026-02-11T09:00:00Z", **REASSIGN), id="late-arriving-old-update"),
        pytest.param(updated(at="2026-03-20T09:00:00Z", **REASSIGN), id="update-next-month"),
    ],
)
def test_re_assigning_a_won_deal_moves_all_of_it_to_the_new_owner(scope, reassignment):
    store = store_of(_won_deal(reassignment))
    assert kpis_at(store, OLD[scope], "7d", NOW) is None
    assert {key for key in set(store.keys()) if key.startswith(f"{scope}|")} == {NEW[scope]}
    new = kpis_at(store, NEW[scope], "7d", NOW)
    assert _subset(new, MOVED) == MOVED
    assert kpis_at(store, NEW[scope], "1h", NOW)["revenue"] == 250.0
    assert kpis_at(store, NEW[scope], "1h", NOW)["opportunities"] == 0


def test_re_assignment_leaves_company_totals_alone():
    before = kpis_at(store_of(_won_deal()), "company|", "7d", NOW)
    after = kpis_at(
        store_of(_won_deal(updated(at="2026-02-14T16:00:00Z", **REASSIGN))), "company|", "7d", NOW
    )
    assert after == before
    assert after["revenue"] == 250.0


def test_re_assignment_restates_the_window_of_won_at_not_the_window_of_the_update():
    store = store_of(
        [
            created(at="2026-01-10T09:00:00Z"),
            won(at="2026-01-20T09:00:00Z", amount=80),
            updated(at="2026-02-10T09:00:00Z", rep_id="rep-2"),
        ]
    )
    january = kpis_at(store, "rep|rep-2", "mtd", ts("2026-01-31T12:00:00Z"))
    february = kpis_at(store, "rep|rep-2", "mtd", NOW)
    assert (january["revenue"], january["deals_won"], january["active_reps"]) == (80.0, 1, 1)
    assert (february["revenue"], february["deals_won"], february["active_reps"]) == (0.0, 0, 0)
    assert kpis_at(store, "rep|rep-1", "qtd", NOW) is None


@pytest.mark.parametrize(
    ("arrivals", "won_count", "lost_count", "revenue"),
    [
        pytest.param(_won_deal(), 1, 0, 250.0, id="won"),
        pytest.param(_won_deal(reopened(at="2026-02-14T15:10:00Z")), 0, 0, 0.0, id="reopened"),
        pytest.param(
            _won_deal(reopened(at="2026-02-14T15:10:00Z"), lost(at="2026-02-14T15:15:00Z")),
            0,
            1,
            0.0,
            id="reopened-then-lost",
        ),
        pytest.param(
            _won_deal(reopened(at="2026-02-14T15:10:00Z"), won(at="2026-02-14T15:15:00Z")),
            1,
            0,
            250.0,
            id="reopened-then-won-again",
        ),
        pytest.param(
            [reopened(at="2026-02-14T15:10:00Z"), *_won_deal()],
            0,
            0,
            0.0,
            id="reopen-arrives-first",
        ),
    ],
)
def test_a_reopened_deal_restates_the_window_where_it_was_counted(
    arrivals, won_count, lost_count, revenue
):
    kpis = kpis_at(store_of(arrivals), "team|team-1", "24h", NOW)
    assert (kpis["deals_won"], kpis["deals_lost"], kpis["revenue"]) == (
        won_count,
        lost_count,
        revenue,
    )
    assert kpis["customers"] == won_count
    assert kpis["new_customers"] == won_count


def test_the_win_counts_in_the_window_of_the_second_win_after_a_reopen():
    store = store_of(
        [
            created(at="2026-01-05T09:00:00Z"),
            won(at="2026-01-20T09:00:00Z", amount=10),
            reopened(at="2026-01-25T09:00:00Z"),
            won(at="2026-02-03T09:00:00Z", amount=30),
        ]
    )
    january = kpis_at(store, "company|", "mtd", ts("2026-01-31T00:00:00Z"))
    february = kpis_at(store, "company|", "mtd", NOW)
    assert (january["deals_won"], january["revenue"], january["opportunities"]) == (0, 0.0, 1)
    assert (february["deals_won"], february["revenue"], february["opportunities"]) == (1, 30.0, 0)
    assert "conversion_ratio" not in february
    assert "conversion_ratio" in january and january["conversion_ratio"] == 0.0


@pytest.mark.parametrize(
    "arrivals",
    [
        pytest.param([won(at="2026-02-14T15:05:00Z", amount=10, customer_id="c")], id="won-only"),
        pytest.param(
            [updated(at="2026-02-14T09:00:00Z", rep_id="rep-1"), lost(at="2026-02-14T15:05:00Z")],
            id="no-team",
        ),
    ],
)
def test_a_deal_without_final_rep_and_team_is_in_no_scope_at_all(arrivals):
    assert store_of(arrivals).keys() == set()


def test_a_deal_without_owner_does_not_acquire_its_customer_so_the_next_win_does():
    store = store_of(
        [
            won("d-orphan", at="2026-02-10T09:00:00Z", customer_id="cust-1", amount=5),
            created("d-2", at="2026-02-11T09:00:00Z"),
            won("d-2", at="2026-02-12T09:00:00Z"),
        ]
    )
    kpis = kpis_at(store, "company|", "7d", NOW)
    assert (kpis["new_customers"], kpis["deals_won"], kpis["revenue"]) == (1, 1, 100.0)


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        pytest.param(
            [created(at="2026-02-14T15:01:00Z"), updated(at="2026-02-14T15:02:00Z", amount=7)],
            {"opportunities": 1, "deals_won": 0, "deals_lost": 0, "active_reps": 1},
            id="open-deal-update",
        ),
        pytest.param(
            _won_deal(updated(at="2026-02-14T15:30:00Z", amount=400)),
            {"deals_won": 1, "revenue": 400.0, "customers": 1},
            id="won-deal-amount-update",
        ),
        pytest.param(
            _won_deal(updated(at="2026-02-14T15:30:00Z", customer_id="cust-2")),
            {"deals_won": 1, "customers": 1, "new_customers": 1},
            id="won-deal-customer-update",
        ),
    ],
)
def test_an_update_without_status_change_only_overwrites_attributes(arrivals, expected):
    kpis = kpis_at(store_of(arrivals), "rep|rep-1", "24h", NOW)
    assert _subset(kpis, expected) == expected
