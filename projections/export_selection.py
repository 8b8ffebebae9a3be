"""Which scopes, windows and KPIs a worker's ``/metrics`` exports (settings ``metrics_*``).

The contract exports everything, and that stays the default. An organisation with 10k reps may
not want 10k x 6 windows x 14 KPIs series in Prometheus: it can export, say, only teams and the
company, or only ``30d``, while ``/v1/kpis`` still answers every key, window and KPI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from projections.effects import SCOPES
from projections.kpis import KPI_DEFINITIONS
from projections.windows import WINDOWS

EVERYTHING = "*"


def parse_names(value: str, known: Iterable[str], what: str) -> tuple[str, ...]:
    """A comma-separated selection as known names in their canonical order; ``""``/``*``: all.

    ``ValueError`` names the unknown entries and what would be accepted, so that a typo in a
    deployment stops the worker at start instead of silently exporting nothing.
    """
    known = tuple(known)
    names = {part.strip().lower() for part in value.split(",") if part.strip()}
    if not names or names == {EVERYTHING}:
        return known
    unknown = sorted(names - set(known))
    if unknown:
        raise ValueError(
            f"unknown {what} {', '.join(map(repr, unknown))}: expected '*' or a comma-separated "
            f"list of {', '.join(known)}"
        )
    return tuple(name for name in known if name in names)


def normalized(value: str, known: Iterable[str], what: str) -> str:
    """The settings form of a selection: ``*`` for all, else the names comma-separated."""
    known = tuple(known)
    names = parse_names(value, known, what)
    return EVERYTHING if names == known else ",".join(names)


@dataclass(frozen=True)
class ExportSelection:
    """Scopes, windows and KPIs to export, each in canonical order (that of the contract)."""

    scopes: tuple[str, ...] = SCOPES
    windows: tuple[str, ...] = WINDOWS
    kpis: tuple[str, ...] = tuple(KPI_DEFINITIONS)

    @classmethod
    def parse(cls, scopes: str = "", windows: str = "", kpis: str = "") -> ExportSelection:
        return cls(
            parse_names(scopes, SCOPES, "scope"),
            parse_names(windows, WINDOWS, "window"),
            parse_names(kpis, KPI_DEFINITIONS, "KPI"),
        )
