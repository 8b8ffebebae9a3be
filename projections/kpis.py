"""KPI definitions of contract section 4, derived from a window's totals.

Ratios with a zero denominator are absent, never NaN or Inf; additive KPIs are always present
(0 in an empty window). Which KPIs a scope has follows the contract's table.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.effects import CHANNEL, COMPANY, REP, SEGMENT, TEAM
from projections.tally import AMOUNT_FIELDS, AMOUNT_SCALE, WEIGHTED_SCALE, WindowTotals

ALL_SCOPES = frozenset({REP, TEAM, COMPANY, CHANNEL, SEGMENT})
CALL_SCOPES = frozenset({REP, TEAM, COMPANY})
COST_SCOPES = frozenset({TEAM, COMPANY, CHANNEL, SEGMENT})
US_PER_SECOND = 1_000_000


@dataclass(frozen=True, slots=True)
class OpenStock:
    """(v2, contract section 2.6) The deals open at one instant T: count, summed final amount
    (micro-units) and summed amount x probability (``WEIGHTED_SCALE`` units)."""

    deals: int = 0
    amount: int = 0
    weighted: int = 0


NO_OPEN_DEALS = OpenStock()

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
    "pipeline_created": ("Sum of the final amounts of deals created in the window", ALL_SCOPES),
    "average_deal_size": ("Revenue / deals won", ALL_SCOPES),
    "time_to_win_seconds": (
        "Mean seconds from creation to win of the deals won in the window",
        ALL_SCOPES,
    ),
    "open_deals": ("Deals open at the end of the current hour (every window)", ALL_SCOPES),
    "open_pipeline": ("Sum of the final amounts of the open deals", ALL_SCOPES),
    "weighted_pipeline": ("Sum of final amount x probability of the open deals", ALL_SCOPES),
}


def derive_kpis(
    scope: str, totals: WindowTotals, stock: OpenStock = NO_OPEN_DEALS
) -> dict[str, float | int]:
    """A window's KPIs; ``stock`` is the key's open deals at T, the same for every window."""
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
            "pipeline_created",
        )
    }
    value["open_deals"] = stock.deals
    value["open_pipeline"] = stock.amount / AMOUNT_SCALE
    value["weighted_pipeline"] = stock.weighted / WEIGHTED_SCALE
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
        "average_deal_size": _ratio(value["revenue"], value["deals_won"]),
        "time_to_win_seconds": _ratio(
            counts.get("won_age_us", 0) / US_PER_SECOND, counts.get("won_with_created", 0)
        ),
    }
    value.update((name, ratio) for name, ratio in ratios.items() if ratio is not None)
    return {
        name: value[name]
        for name, (_, scopes) in KPI_DEFINITIONS.items()
        if scope in scopes and name in value
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
