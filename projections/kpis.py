"""KPI definitions of contract section 4, derived from a window's totals.

Ratios with a zero denominator are absent, never NaN or Inf; additive KPIs are always present
(0 in an empty window). Which KPIs a scope has follows the contract's table.
"""

from __future__ import annotations

from projections.effects import CHANNEL, COMPANY, REP, TEAM
from projections.tally import AMOUNT_FIELDS, AMOUNT_SCALE, WindowTotals

ALL_SCOPES = frozenset({REP, TEAM, COMPANY, CHANNEL})
CALL_SCOPES = frozenset({REP, TEAM, COMPANY})
COST_SCOPES = frozenset({TEAM, COMPANY, CHANNEL})

# name -> (help text, scopes that have it). Order is the contract's.
KPI_DEFINITIONS: dict[str, tuple[str, frozenset[str]]] = {
    "revenue": ("Sum of the final amounts of deals won in the window", ALL_SCOPES),
    "opportunities": ("Deals created in the window", ALL_SCOPES),
    "deals_won": ("Deals won in the window", ALL_SCOPES),
    "deals_lost": ("Deals lost in the window", ALL_SCOPES),
    "conversion_ratio": ("Deals won / opportunities (period-based, may exceed 1)", ALL_SCOPES),
    "win_ratio": ("Deals won / (deals won + deals lost)", ALL_SCOPES),
    "active_reps": ("Distinct reps with an opportunity, win, loss or call", ALL_SCOPES),
    "revenue_per_rep": ("Revenue / active reps", ALL_SCOPES),
    "calls": ("Calls logged in the window", CALL_SCOPES),
    "calls_per_opportunity": ("Calls / opportunities", CALL_SCOPES),
    "calls_per_rep": ("Calls / active reps", CALL_SCOPES),
    "customers": ("Distinct customers of deals won in the window", ALL_SCOPES),
    "average_basket": ("Revenue / customers", ALL_SCOPES),
    "new_customers": ("Customers acquired (first win) in the window", ALL_SCOPES),
    "cost_marketing": ("Marketing costs incurred in the window", COST_SCOPES),
    "cost_sales": ("Sales costs incurred in the window", COST_SCOPES),
    "cac": ("(Marketing + sales costs) / new customers", COST_SCOPES),
}


def derive_kpis(scope: str, totals: WindowTotals) -> dict[str, float | int]:
    counts = totals.counts
    value = {
        name: counts.get(name, 0) / AMOUNT_SCALE if name in AMOUNT_FIELDS else counts.get(name, 0)
        for name in (
            "revenue",
            "opportunities",
            "deals_won",
            "deals_lost",
            "calls",
            "new_customers",
            "cost_marketing",
            "cost_sales",
        )
    }
    value["active_reps"] = len(totals.reps)
    value["customers"] = len(totals.customers)
    costs = (counts.get("cost_marketing", 0) + counts.get("cost_sales", 0)) / AMOUNT_SCALE
    ratios = {
        "conversion_ratio": _ratio(value["deals_won"], value["opportunities"]),
        "win_ratio": _ratio(value["deals_won"], value["deals_won"] + value["deals_lost"]),
        "revenue_per_rep": _ratio(value["revenue"], value["active_reps"]),
        "calls_per_opportunity": _ratio(value["calls"], value["opportunities"]),
        "calls_per_rep": _ratio(value["calls"], value["active_reps"]),
        "average_basket": _ratio(value["revenue"], value["customers"]),
        "cac": _ratio(costs, value["new_customers"]),
    }
    value.update((name, ratio) for name, ratio in ratios.items() if ratio is not None)
    return {
        name: value[name]
        for name, (_, scopes) in KPI_DEFINITIONS.items()
        if scope in scopes and name in value
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
