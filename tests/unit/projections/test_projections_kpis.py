"""Contract section 4: KPI definitions, ratios absent at zero, and the KPI set of each scope."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.kpis import KPI_DEFINITIONS, OpenStock, derive_kpis
from projections.tally import AMOUNT_SCALE, WEIGHTED_SCALE, Tally, WindowTotals

ADDITIVE = {
    "rep": [
        "revenue",
        "opportunities",
        "deals_won",
        "deals_lost",
        "active_reps",
        "calls",
        "customers",
        "new_customers",
    ],
    "team": [
        "revenue",
        "opportunities",
        "deals_won",
        "deals_lost",
        "active_reps",
        "calls",
        "customers",
        "new_customers",
        "cost_marketing",
        "cost_sales",
    ],
    "channel": [
        "revenue",
        "opportunities",
        "deals_won",
        "deals_lost",
        "active_reps",
        "customers",
        "new_customers",
        "cost_marketing",
        "cost_sales",
    ],
}
V2_ADDITIVE = ["pipeline_created", "open_deals", "open_pipeline", "weighted_pipeline"]
for names in ADDITIVE.values():
    names += V2_ADDITIVE
ADDITIVE["company"] = ADDITIVE["team"]
ADDITIVE["segment"] = ADDITIVE["channel"]
RATIOS = {
    "rep": [
        "conversion_ratio",
        "win_ratio",
        "revenue_per_rep",
        "calls_per_opportunity",
        "calls_per_rep",
        "average_basket",
    ],
    "team": [
        "conversion_ratio",
        "win_ratio",
        "revenue_per_rep",
        "calls_per_opportunity",
        "calls_per_rep",
        "average_basket",
        "cac",
    ],
    "channel": ["conversion_ratio", "win_ratio", "revenue_per_rep", "average_basket", "cac"],
}
for names in RATIOS.values():
    names += ["average_deal_size", "time_to_win_seconds"]
RATIOS["company"] = RATIOS["team"]
RATIOS["segment"] = RATIOS["channel"]
AMOUNTS = {
    "revenue",
    "cost_marketing",
    "cost_sales",
    "pipeline_created",
    "open_pipeline",
    "weighted_pipeline",
}
SCOPES = ["rep", "team", "company", "channel", "segment"]


def totals(reps=(), customers=(), **counts) -> WindowTotals:
    """Window totals from counts in KPI units (amounts in currency, turned into micro-units)."""
    result = WindowTotals()
    result.include(
        Tally(
            {k: round(v * AMOUNT_SCALE) if k in AMOUNTS else v for k, v in counts.items() if v},
            dict.fromkeys(reps, 1),
            dict.fromkeys(customers, 1),
        )
    )
    return result


FULL = totals(
    reps=["r1", "r2"],
    customers=["c1", "c2", "c3"],
    revenue=300,
    opportunities=4,
    deals_won=3,
    deals_lost=1,
    calls=10,
    new_customers=2,
    cost_marketing=50,
    cost_sales=30.5,
    pipeline_created=420,
    won_with_created=2,
    won_age_us=90 * 10**6,
)
STOCK = OpenStock(deals=5, amount=700 * AMOUNT_SCALE, weighted=175 * WEIGHTED_SCALE)


@pytest.mark.parametrize("scope", SCOPES)
def test_an_empty_window_has_every_additive_kpi_at_zero_and_no_ratio(scope):
    kpis = derive_kpis(scope, WindowTotals())  # and no open deal
    assert kpis == {name: 0.0 if name in AMOUNTS else 0 for name in ADDITIVE[scope]}
    assert all(isinstance(kpis[name], float) for name in AMOUNTS & set(kpis))


@pytest.mark.parametrize("scope", SCOPES)
def test_each_scope_has_exactly_its_kpis_from_the_contract_table(scope):
    kpis = derive_kpis(scope, FULL, STOCK)
    assert set(kpis) == set(ADDITIVE[scope]) | set(RATIOS[scope])
    assert list(kpis) == [name for name in KPI_DEFINITIONS if name in kpis]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("revenue", 300.0),
        ("opportunities", 4),
        ("deals_won", 3),
        ("deals_lost", 1),
        ("conversion_ratio", 0.75),
        ("win_ratio", 0.75),
        ("active_reps", 2),
        ("revenue_per_rep", 150.0),
        ("calls", 10),
        ("calls_per_opportunity", 2.5),
        ("calls_per_rep", 5.0),
        ("customers", 3),
        ("average_basket", 100.0),
        ("new_customers", 2),
        ("cost_marketing", 50.0),
        ("cost_sales", 30.5),
        ("cac", 40.25),
        ("pipeline_created", 420.0),
        ("average_deal_size", 100.0),
        ("time_to_win_seconds", 45.0),
        ("open_deals", 5),
        ("open_pipeline", 700.0),
        ("weighted_pipeline", 175.0),
    ],
)
def test_every_kpi_follows_its_definition(name, value):
    assert derive_kpis("company", FULL, STOCK)[name] == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(
    ("counts", "present", "absent"),
    [
        pytest.param(
            dict(deals_won=2),
            {"win_ratio": 1.0},
            ["conversion_ratio"],
            id="won-without-opportunity",
        ),
        pytest.param(
            dict(opportunities=2, deals_won=3),
            {"conversion_ratio": 1.5},
            [],
            id="conversion-may-exceed-one",
        ),
        pytest.param(
            dict(opportunities=2), {"conversion_ratio": 0.0}, ["win_ratio"], id="no-closed-deal"
        ),
        pytest.param(
            dict(deals_lost=2), {"win_ratio": 0.0}, ["conversion_ratio"], id="only-losses"
        ),
        pytest.param(
            dict(revenue=10), {}, ["revenue_per_rep", "average_basket"], id="no-rep-no-customer"
        ),
        pytest.param(
            dict(calls=5),
            {},
            ["calls_per_opportunity", "calls_per_rep"],
            id="calls-without-opportunity-or-rep",
        ),
        pytest.param(
            dict(cost_marketing=10, cost_sales=5), {}, ["cac"], id="costs-without-new-customer"
        ),
        pytest.param(dict(new_customers=2), {"cac": 0.0}, [], id="new-customers-without-cost"),
        pytest.param(dict(cost_sales=9, new_customers=3), {"cac": 3.0}, [], id="sales-cost-only"),
    ],
)
def test_a_ratio_is_absent_exactly_when_its_denominator_is_zero(counts, present, absent):
    kpis = derive_kpis("company", totals(**counts))
    assert {name: kpis.get(name) for name in present} == present
    assert [name for name in absent if name in kpis] == []


def test_a_ratio_over_reps_or_customers_uses_distinct_members():
    window = WindowTotals()
    window.include(Tally({"revenue": 60 * AMOUNT_SCALE, "calls": 6}, {"r1": 2}, {"c1": 3}))
    window.include(Tally({}, {"r1": 1, "r2": 1}, {"c1": 1}))
    kpis = derive_kpis("rep", window)
    assert (kpis["active_reps"], kpis["customers"]) == (2, 1)
    assert (kpis["revenue_per_rep"], kpis["calls_per_rep"], kpis["average_basket"]) == (
        30.0,
        3.0,
        60.0,
    )


@pytest.mark.parametrize(
    ("scope", "extra", "missing"),
    [
        pytest.param(
            "rep",
            dict(cost_marketing=5, new_customers=1),
            ["cost_marketing", "cac"],
            id="rep-has-no-costs",
        ),
        pytest.param(
            "channel",
            dict(calls=5, opportunities=1),
            ["calls", "calls_per_opportunity", "calls_per_rep"],
            id="channel-has-no-calls",
        ),
    ],
)
def test_a_scope_never_shows_kpis_it_does_not_have_even_if_counted(scope, extra, missing):
    kpis = derive_kpis(scope, totals(reps=["r1"], **extra))
    assert [name for name in missing if name in kpis] == []


@pytest.mark.parametrize(
    ("micros", "currency"),
    [(1, 0.000001), (1_234_567_891, 1234.567891), (10**18, 10.0**12), (0, 0.0)],
)
def test_amounts_are_reported_in_currency_units(micros, currency):
    window = WindowTotals()
    window.include(Tally({"revenue": micros} if micros else {}))
    assert derive_kpis("team", window)["revenue"] == currency


COUNTS = st.fixed_dictionaries(
    {
        name: st.integers(min_value=0, max_value=10**6)
        for name in (
            "opportunities",
            "deals_won",
            "deals_lost",
            "calls",
            "new_customers",
            "won_with_created",
        )
    }
    | {
        name: st.integers(min_value=0, max_value=10**15)
        for name in ("revenue", "cost_marketing", "cost_sales", "pipeline_created", "won_age_us")
    }
)
DENOMINATORS = {
    "conversion_ratio": lambda k: k["opportunities"],
    "win_ratio": lambda k: k["deals_won"] + k["deals_lost"],
    "revenue_per_rep": lambda k: k["active_reps"],
    "calls_per_opportunity": lambda k: k["opportunities"],
    "calls_per_rep": lambda k: k["active_reps"],
    "average_basket": lambda k: k["customers"],
    "cac": lambda k: k["new_customers"],
    "average_deal_size": lambda k: k["deals_won"],
}
RAW_DENOMINATORS = {"time_to_win_seconds": "won_with_created"}
"""Ratios over a count no KPI shows: the deals won in the window that have a creation."""


@settings(max_examples=300, deadline=None, database=None)
@given(
    scope=st.sampled_from(SCOPES),
    counts=COUNTS,
    reps=st.sets(st.sampled_from(["r1", "r2", "r3"])),
    customers=st.sets(st.sampled_from(["c1", "c2"])),
)
def test_kpis_are_always_finite_and_ratios_present_iff_their_denominator_is_not_zero(
    scope, counts, reps, customers
):
    window = WindowTotals()
    window.include(
        Tally(
            {k: v for k, v in counts.items() if v},
            dict.fromkeys(reps, 1),
            dict.fromkeys(customers, 1),
        )
    )
    kpis = derive_kpis(scope, window)
    assert all(math.isfinite(value) for value in kpis.values())
    assert set(ADDITIVE[scope]) <= set(kpis)
    for name in RATIOS[scope]:
        if name in RAW_DENOMINATORS:
            assert (name in kpis) is (counts[RAW_DENOMINATORS[name]] != 0), name
        else:
            assert (name in kpis) is (DENOMINATORS[name](kpis) != 0), name
