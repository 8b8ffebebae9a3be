"""Ranking KPI answers into rows for ``salespulse kpis`` (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from events.errors import InvalidInput
from projections.kpis import KPI_DEFINITIONS


class ReportError(InvalidInput):
    """A request the report cannot satisfy (e.g. sorting by a KPI the scope does not have)."""


def kpi_names(scope: str) -> list[str]:
    """The KPIs a scope has, in the contract's order."""
    return [name for name, (_, scopes) in KPI_DEFINITIONS.items() if scope in scopes]


def check_sort(scope: str, sort: str) -> str:
    names = kpi_names(scope)
    if sort not in names:
        raise ReportError(
            f"--sort: {sort!r} is not a KPI of scope {scope}; one of {', '.join(names)}"
        )
    return sort


def ranked_rows(
    scope: str, answers: Sequence[dict], sort: str, ascending: bool = False
) -> tuple[list[str], list[list]]:
    """Columns and rows (rank, id, every KPI of the scope), best first by ``sort``.

    ``answers`` are ``/v1/kpis`` bodies. Rows whose ``sort`` KPI is absent (a ratio with a zero
    denominator) come last; ties keep id order, so the output is deterministic.
    """
    names = kpi_names(scope)
    check_sort(scope, sort)
    by_id = sorted(answers, key=lambda answer: answer["id"])
    present = [a for a in by_id if a["kpis"].get(sort) is not None]
    absent = [a for a in by_id if a["kpis"].get(sort) is None]
    present.sort(key=lambda answer: answer["kpis"][sort], reverse=not ascending)
    rows = [
        [rank, answer["id"], *(answer["kpis"].get(name) for name in names)]
        for rank, answer in enumerate(present + absent, start=1)
    ]
    return ["rank", "id", *names], rows
