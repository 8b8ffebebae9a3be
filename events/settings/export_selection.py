"""Settings group: which KPI series a worker's /metrics exports (/v1/kpis answers them all).

The names are checked against the projections' own scopes, windows and KPIs, so that a typo stops
the worker at start instead of silently exporting nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from projections.effects import SCOPES
from projections.export_selection import normalized
from projections.kpis import KPI_DEFINITIONS
from projections.windows import WINDOWS


class ExportSelectionSettings(BaseModel):
    """The scopes, windows and KPI families of the 'sales_' series on /metrics."""

    metrics_scopes: str = Field(
        "*",
        description="Scopes whose KPI series a worker's /metrics exports: '*' (or empty) for all, "
        "else a comma-separated list of rep, team, company, channel (e.g. 'team,company,channel' "
        "to keep 10k reps out of Prometheus). /v1/kpis still answers every scope.",
    )
    metrics_windows: str = Field(
        "*",
        description="Windows exported on /metrics: '*' (or empty) for all, else a "
        "comma-separated list of 1h, 24h, 7d, 30d, mtd, qtd. /v1/kpis still answers every window.",
    )
    metrics_kpis: str = Field(
        "*",
        description="KPIs exported on /metrics (the 'sales_' families): '*' (or empty) for all, "
        "else a comma-separated list of contract names (revenue, opportunities, deals_won, "
        "deals_lost, conversion_ratio, win_ratio, active_reps, revenue_per_rep, calls, "
        "calls_per_opportunity, calls_per_rep, customers, average_basket, new_customers, "
        "cost_marketing, cost_sales, cac); an unlisted family is not exported at all. /v1/kpis "
        "still answers every KPI.",
    )

    @field_validator("metrics_scopes", "metrics_windows", "metrics_kpis")
    @classmethod
    def _known_export_names(cls, value: str, info: ValidationInfo) -> str:
        # A typo must stop the worker at start, not silently export nothing.
        known, what = {
            "metrics_scopes": (SCOPES, "scope"),
            "metrics_windows": (WINDOWS, "window"),
            "metrics_kpis": (KPI_DEFINITIONS, "KPI"),
        }[info.field_name]
        return normalized(value, known, what)
