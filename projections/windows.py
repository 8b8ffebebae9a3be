"""The six reporting windows of contract section 3, as bucket ranges of the grids.

A window is half-open ``[start, end)``. Rolling windows truncate ``now`` in UTC; ``mtd`` and
``qtd`` follow the calendar of the reporting time zone. The end lies after ``now``: events later
than ``now`` but inside the window still count (``as_of`` moves the window, it hides nothing).

Spans are integer arithmetic on bucket indexes and day numbers (``projections.timebase``), so a
span exists for every instant; only ``window_bounds`` builds datetimes, within years 1-9999.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events.errors import InvalidInput
from projections.timebase import (
    HOUR_US,
    US,
    BucketGrid,
    Grid,
    civil_from_days,
    days_from_civil,
    from_us,
    to_us,
)

WINDOWS = ("1h", "24h", "7d", "30d", "mtd", "qtd")


class UnknownWindow(InvalidInput):
    """A window name that is none of ``WINDOWS``."""


@dataclass(frozen=True)
class WindowSpan:
    """Which buckets of which grid a window sums: indexes ``first`` to ``last`` inclusive."""

    grid: Grid
    first: int
    last: int

    def indexes(self) -> range:
        return range(self.first, self.last + 1)


def stock_hour(now: datetime) -> int:
    """T of contract section 2.6, as an hour index: hour(now) + 1h, the end of the ``1h``
    window. Stocks sum every change at an hour before it."""
    return to_us(now) // HOUR_US + 1


def window_span(window: str, now: datetime, grid: BucketGrid) -> WindowSpan:
    now_us = to_us(now)
    hour = now_us // HOUR_US
    day = now_us // (86_400 * US)
    if window == "1h":
        return WindowSpan(Grid.HOURLY, hour, hour)
    if window == "24h":
        return WindowSpan(Grid.HOURLY, hour - 23, hour)
    if window == "7d":
        return WindowSpan(Grid.DAILY, day - 6, day)
    if window == "30d":
        return WindowSpan(Grid.DAILY, day - 29, day)
    if window in ("mtd", "qtd"):
        local_grid = Grid.DAILY if grid.local_is_utc else Grid.LOCAL_DAILY
        first, end = _calendar_period(window, grid.local_day_of(now))
        return WindowSpan(local_grid, days_from_civil(*first, 1), days_from_civil(*end, 1) - 1)
    raise UnknownWindow(f"window: must be one of {', '.join(WINDOWS)}")


def window_bounds(window: str, now: datetime, grid: BucketGrid) -> tuple[datetime, datetime]:
    """The window as aware datetimes (UTC for rolling windows, the reporting zone for calendar)."""
    span = window_span(window, now, grid)
    if span.grid is Grid.HOURLY:
        return from_us(span.first * HOUR_US), from_us((span.last + 1) * HOUR_US)
    if span.grid is Grid.DAILY:
        day_us = 86_400 * US
        return from_us(span.first * day_us), from_us((span.last + 1) * day_us)
    first, end = _calendar_period(window, grid.local_day_of(now))
    return (
        datetime(*first, 1, tzinfo=grid.tz),
        datetime(*end, 1, tzinfo=grid.tz),
    )


def _calendar_period(window: str, today: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(year, month) of the first month of the period (month or calendar quarter) containing
    day number ``today``, and of the month after it: plain integers, so December 9999 has an
    end too."""
    year, month, _ = civil_from_days(today)
    months = 1 if window == "mtd" else 3
    first_month = month if months == 1 else 3 * ((month - 1) // 3) + 1
    end_month = first_month + months
    return (year, first_month), (year + (end_month - 1) // 12, (end_month - 1) % 12 + 1)
