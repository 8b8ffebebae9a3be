"""Pure helpers of the benchmarks: percentiles, rates, ratios and the result table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    Same definition as numpy's default (``linear``); an empty sequence has none (``nan``).
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate(count: int, seconds: float) -> float:
    """Items per second; ``nan`` when no time was measured."""
    return count / seconds if seconds > 0 else math.nan


def middle_rate(
    backlog: Sequence[tuple[float, int]], total: int, first: float = 0.9, last: float = 0.1
) -> float:
    """Items per second while the backlog went from ``first`` to ``last`` of ``total``:
    the rate of a long backfill, without the start-up before it and the tail after it.

    ``backlog`` is (monotonic time, items left) as sampled, in time order; the rate is taken
    between the first samples at or below each bound. ``nan`` when the samples never show
    both, or show them at the same instant (a run too short for the sampling)."""

    def first_at_most(bound: float) -> tuple[float, int] | None:
        return next(((at, left) for at, left in backlog if left <= bound), None)

    start, end = first_at_most(first * total), first_at_most(last * total)
    if start is None or end is None or end[0] <= start[0]:
        return math.nan
    return (start[1] - end[1]) / (end[0] - start[0])


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; ``nan`` when the denominator is zero or unknown."""
    if not denominator or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    return numerator / denominator


def format_ratio(value: float) -> str:
    """A ratio as people read it: ``12.3×``, ``0.42×``, ``n/a``."""
    if value is None or math.isnan(value):
        return "n/a"
    if value >= 10:
        return f"{value:.1f}×"
    if value >= 0.1:
        return f"{value:.2f}×"
    return f"{value:.2g}×"


def format_rate(value: float) -> str:
    """Events per second with thousands separators, ``n/a`` when unknown."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.0f}/s"


def format_ms(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "n/a"
    return f"{seconds * 1000:.1f} ms"


@dataclass
class Figure:
    """One measured figure, its target and whether the target is met (``None``: no target)."""

    bench: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None

    def row(self) -> str:
        verdict = {True: "met", False: "NOT met", None: ""}[self.met]
        return f"| {self.bench} | {self.name} | {self.value} | {self.target} | {verdict} |"


def table(figures: Sequence[Figure]) -> str:
    """A Markdown table of figures, as docs/BENCHMARKS.md shows them."""
    lines = ["| bench | figure | measured | target | |", "|---|---|---|---|---|"]
    lines += [f.row() for f in figures]
    return "\n".join(lines)
