"""Contract section 3: the six windows as half-open bounds and as bucket spans of the grids."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.timestamps import EARLIEST_INSTANT, LATEST_INSTANT
from projections.timebase import QUARTER_US, BucketGrid, Grid, to_us
from projections.windows import WINDOWS, UnknownWindow, window_bounds, window_span
from tests.support.factories import ts

UTC_GRID = BucketGrid()
ROLLING = ("1h", "24h", "7d", "30d")
CALENDAR = ("mtd", "qtd")
ZONES = [
    "UTC",
    "Europe/Paris",
    "Asia/Kolkata",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
]

# now -> window -> (start, end), UTC, in the order of WINDOWS.
UTC_TABLE = {
    "2026-02-14T15:20:00Z": [
        ("2026-02-14T15:00Z", "2026-02-14T16:00Z"),
        ("2026-02-13T16:00Z", "2026-02-14T16:00Z"),
        ("2026-02-08T00:00Z", "2026-02-15T00:00Z"),
        ("2026-01-16T00:00Z", "2026-02-15T00:00Z"),
        ("2026-02-01T00:00Z", "2026-03-01T00:00Z"),
        ("2026-01-01T00:00Z", "2026-04-01T00:00Z"),
    ],
    "2025-12-31T23:59:59.999999Z": [
        ("2025-12-31T23:00Z", "2026-01-01T00:00Z"),
        ("2025-12-31T00:00Z", "2026-01-01T00:00Z"),
        ("2025-12-25T00:00Z", "2026-01-01T00:00Z"),
        ("2025-12-02T00:00Z", "2026-01-01T00:00Z"),
        ("2025-12-01T00:00Z", "2026-01-01T00:00Z"),
        ("2025-10-01T00:00Z", "2026-01-01T00:00Z"),
    ],
    "2026-01-01T00:00:00Z": [
        ("2026-01-01T00:00Z", "2026-01-01T01:00Z"),
        ("2025-12-31T01:00Z", "2026-01-01T01:00Z"),
        ("2025-12-26T00:00Z", "2026-01-02T00:00Z"),
        ("2025-12-03T00:00Z", "2026-01-02T00:00Z"),
        ("2026-01-01T00:00Z", "2026-02-01T00:00Z"),
        ("2026-01-01T00:00Z", "2026-04-01T00:00Z"),
    ],
    "2026-03-31T23:30:00Z": [
        ("2026-03-31T23:00Z", "2026-04-01T00:00Z"),
        ("2026-03-31T00:00Z", "2026-04-01T00:00Z"),
        ("2026-03-25T00:00Z", "2026-04-01T00:00Z"),
        ("2026-03-02T00:00Z", "2026-04-01T00:00Z"),
        ("2026-03-01T00:00Z", "2026-04-01T00:00Z"),
        ("2026-01-01T00:00Z", "2026-04-01T00:00Z"),
    ],
    "2026-04-01T00:00:00Z": [
        ("2026-04-01T00:00Z", "2026-04-01T01:00Z"),
        ("2026-03-31T01:00Z", "2026-04-01T01:00Z"),
        ("2026-03-26T00:00Z", "2026-04-02T00:00Z"),
        ("2026-03-03T00:00Z", "2026-04-02T00:00Z"),
        ("2026-04-01T00:00Z", "2026-05-01T00:00Z"),
        ("2026-04-01T00:00Z", "2026-07-01T00:00Z"),
    ],
    "2024-02-29T12:00:00+01:00": [
        ("2024-02-29T11:00Z", "2024-02-29T12:00Z"),
        ("2024-02-28T12:00Z", "2024-02-29T12:00Z"),
        ("2024-02-23T00:00Z", "2024-03-01T00:00Z"),
        ("2024-01-31T00:00Z", "2024-03-01T00:00Z"),
        ("2024-02-01T00:00Z", "2024-03-01T00:00Z"),
        ("2024-01-01T00:00Z", "2024-04-01T00:00Z"),
    ],
    "2026-10-01T00:30:00+02:00": [
        ("2026-09-30T22:00Z", "2026-09-30T23:00Z"),
        ("2026-09-29T23:00Z", "2026-09-30T23:00Z"),
        ("2026-09-24T00:00Z", "2026-10-01T00:00Z"),
        ("2026-09-01T00:00Z", "2026-10-01T00:00Z"),
        ("2026-09-01T00:00Z", "2026-10-01T00:00Z"),
        ("2026-07-01T00:00Z", "2026-10-01T00:00Z"),
    ],
    "2026-12-15T08:00:00Z": [
        ("2026-12-15T08:00Z", "2026-12-15T09:00Z"),
        ("2026-12-14T09:00Z", "2026-12-15T09:00Z"),
        ("2026-12-09T00:00Z", "2026-12-16T00:00Z"),
        ("2026-11-16T00:00Z", "2026-12-16T00:00Z"),
        ("2026-12-01T00:00Z", "2027-01-01T00:00Z"),
        ("2026-10-01T00:00Z", "2027-01-01T00:00Z"),
    ],
}
UTC_CASES = [
    pytest.param(now, window, bounds, id=f"{now}-{window}")
    for now, rows in UTC_TABLE.items()
    for window, bounds in zip(WINDOWS, rows, strict=True)
]

# (zone, now) -> (mtd, qtd) as UTC instants: local months start at non-midnight UTC instants.
ZONED_TABLE = {
    ("Europe/Paris", "2025-12-31T23:30:00Z"): (
        ("2025-12-31T23:00Z", "2026-01-31T23:00Z"),
        ("2025-12-31T23:00Z", "2026-03-31T22:00Z"),
    ),
    ("Europe/Paris", "2025-12-31T22:59:59Z"): (
        ("2025-11-30T23:00Z", "2025-12-31T23:00Z"),
        ("2025-09-30T22:00Z", "2025-12-31T23:00Z"),
    ),
    ("Europe/Paris", "2026-03-31T21:59:59Z"): (
        ("2026-02-28T23:00Z", "2026-03-31T22:00Z"),
        ("2025-12-31T23:00Z", "2026-03-31T22:00Z"),
    ),
    ("Europe/Paris", "2026-03-31T22:00:00Z"): (
        ("2026-03-31T22:00Z", "2026-04-30T22:00Z"),
        ("2026-03-31T22:00Z", "2026-06-30T22:00Z"),
    ),
    ("Asia/Kolkata", "2026-01-31T18:29:59Z"): (
        ("2025-12-31T18:30Z", "2026-01-31T18:30Z"),
        ("2025-12-31T18:30Z", "2026-03-31T18:30Z"),
    ),
    ("Asia/Kolkata", "2026-01-31T18:30:00Z"): (
        ("2026-01-31T18:30Z", "2026-02-28T18:30Z"),
        ("2025-12-31T18:30Z", "2026-03-31T18:30Z"),
    ),
    ("Asia/Kolkata", "2026-03-31T23:30:00Z"): (
        ("2026-03-31T18:30Z", "2026-04-30T18:30Z"),
        ("2026-03-31T18:30Z", "2026-06-30T18:30Z"),
    ),
    ("America/New_York", "2026-03-15T12:00:00Z"): (
        ("2026-03-01T05:00Z", "2026-04-01T04:00Z"),
        ("2026-01-01T05:00Z", "2026-04-01T04:00Z"),
    ),
    ("America/New_York", "2026-11-15T12:00:00Z"): (
        ("2026-11-01T04:00Z", "2026-12-01T05:00Z"),
        ("2026-10-01T04:00Z", "2027-01-01T05:00Z"),
    ),
    ("America/New_York", "2026-01-01T00:00:00Z"): (
        ("2025-12-01T05:00Z", "2026-01-01T05:00Z"),
        ("2025-10-01T04:00Z", "2026-01-01T05:00Z"),
    ),
    ("America/New_York", "2026-01-01T05:00:00Z"): (
        ("2026-01-01T05:00Z", "2026-02-01T05:00Z"),
        ("2026-01-01T05:00Z", "2026-04-01T04:00Z"),
    ),
    ("Asia/Kathmandu", "2026-02-14T15:20:00Z"): (
        ("2026-01-31T18:15Z", "2026-02-28T18:15Z"),
        ("2025-12-31T18:15Z", "2026-03-31T18:15Z"),
    ),
}
ZONED_CASES = [
    pytest.param(zone, now, window, bounds, id=f"{zone}-{now}-{window}")
    for (zone, now), rows in ZONED_TABLE.items()
    for window, bounds in zip(CALENDAR, rows, strict=True)
]


@pytest.mark.parametrize(("now", "window", "bounds"), UTC_CASES)
def test_window_bounds_in_utc_are_the_contract_table(now, window, bounds):
    start, end = window_bounds(window, ts(now), UTC_GRID)
    assert (start, end) == (ts(bounds[0]), ts(bounds[1]))
    assert start <= ts(now) < end


@pytest.mark.parametrize(("zone", "now", "window", "bounds"), ZONED_CASES)
def test_calendar_windows_follow_the_local_calendar_of_the_reporting_zone(
    zone, now, window, bounds
):
    start, end = window_bounds(window, ts(now), BucketGrid(zone))
    assert (start, end) == (ts(bounds[0]), ts(bounds[1]))
    for bound in (start, end):
        local = bound.astimezone(ZoneInfo(zone))
        assert (local.day, local.time()) == (1, time(0))
    assert start <= ts(now) < end


@pytest.mark.parametrize("zone", ZONES[1:])
@pytest.mark.parametrize("now", list(UTC_TABLE))
@pytest.mark.parametrize("window", ROLLING)
def test_rolling_windows_truncate_in_utc_whatever_the_reporting_zone(zone, now, window):
    grid = BucketGrid(zone)
    assert window_bounds(window, ts(now), grid) == window_bounds(window, ts(now), UTC_GRID)
    assert window_span(window, ts(now), grid) == window_span(window, ts(now), UTC_GRID)


@pytest.mark.parametrize(
    ("window", "grid_name", "buckets"),
    [
        ("1h", Grid.HOURLY, 1),
        ("24h", Grid.HOURLY, 24),
        ("7d", Grid.DAILY, 7),
        ("30d", Grid.DAILY, 30),
        ("mtd", Grid.DAILY, 28),
        ("qtd", Grid.DAILY, 90),
    ],
)
def test_a_window_span_sums_whole_buckets_of_one_grid(window, grid_name, buckets):
    span = window_span(window, ts("2026-02-14T15:20:00Z"), UTC_GRID)
    assert (span.grid, len(span.indexes())) == (grid_name, buckets)
    assert span.indexes() == range(span.first, span.last + 1)


@pytest.mark.parametrize(("window", "days"), [("mtd", 31), ("qtd", 90)])
def test_calendar_spans_use_the_local_grid_outside_utc(window, days):
    span = window_span(window, ts("2026-03-15T12:00:00Z"), BucketGrid("America/New_York"))
    assert (span.grid, len(span.indexes())) == (Grid.LOCAL_DAILY, days)


@pytest.mark.parametrize("window", ["", "1d", "ytd", "MTD", "24H", None])
def test_an_unknown_window_is_refused(window):
    with pytest.raises(UnknownWindow, match="window: must be one of 1h, 24h, 7d, 30d, mtd, qtd"):
        window_span(window, ts("2026-02-14T15:20:00Z"), UTC_GRID)
    assert issubclass(UnknownWindow, ValueError)


def _contains_bucket(grid: BucketGrid, span, at_us: int) -> bool:
    return dict(grid.buckets_of(at_us // QUARTER_US))[span.grid] in span.indexes()


@settings(max_examples=300, deadline=None, database=None)
@given(
    zone=st.sampled_from(ZONES),
    window=st.sampled_from(WINDOWS),
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
)
def test_the_span_holds_exactly_the_quarter_hours_inside_the_bounds(zone, window, now):
    grid = BucketGrid(zone)
    span = window_span(window, now, grid)
    start, end = (to_us(b) for b in window_bounds(window, now, grid))
    assert start <= to_us(now) < end
    assert (start % QUARTER_US, end % QUARTER_US) == (0, 0)
    quarter = QUARTER_US
    for at_us, inside in [
        (start - quarter, False),
        (start, True),
        (end - quarter, True),
        (end, False),
        (to_us(now), True),
    ]:
        assert _contains_bucket(grid, span, at_us) is inside
    assert end - start <= timedelta(days=93) // timedelta(microseconds=1)


# Totality (issue 13): a window exists for every as_of the API accepts, in every zone.

AS_OF_EXTREMES = [EARLIEST_INSTANT, LATEST_INSTANT - timedelta(microseconds=1)]


@pytest.mark.parametrize("zone", sorted(available_timezones()))
def test_every_window_of_the_earliest_and_latest_as_of_has_bounds_in_every_zone(zone):
    grid = BucketGrid(zone)
    for now in AS_OF_EXTREMES:
        for window in WINDOWS:
            span = window_span(window, now, grid)
            start, end = window_bounds(window, now, grid)
            assert start <= now < end
            assert 0 < len(span.indexes()) <= 92


@pytest.mark.parametrize(
    ("zone", "now", "first", "end"),
    [
        ("America/Adak", "1970-01-01T00:00:00Z",
         "1969-10-01T00:00:00-10:00", "1970-01-01T00:00:00-11:00"),
        ("Pacific/Kiritimati", "1970-01-01T00:00:00Z",
         "1969-10-01T00:00:00-10:40", "1970-01-01T00:00:00-10:40"),
        ("Pacific/Kiritimati", "8999-12-31T23:59:59Z",
         "9000-01-01T00:00:00+14:00", "9000-04-01T00:00:00+14:00"),
        ("America/Adak", "8999-12-31T23:59:59Z",
         "8999-10-01T00:00:00-09:00", "9000-01-01T00:00:00-10:00"),
    ],
)  # fmt: skip
def test_a_calendar_quarter_to_date_at_the_extremes_starts_and_ends_at_local_midnights(
    zone, now, first, end
):
    grid = BucketGrid(zone)
    start, stop = window_bounds("qtd", ts(now), grid)
    assert (start, stop) == (ts(first), ts(end))
    span = window_span("qtd", ts(now), grid)
    assert span.grid == Grid.LOCAL_DAILY
    assert len(span.indexes()) == (stop.date() - start.date()).days


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Adak"])
@pytest.mark.parametrize("window", WINDOWS)
def test_a_window_span_exists_even_at_the_last_instant_python_can_represent(zone, window):
    now = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    span = window_span(window, now, BucketGrid(zone))
    assert span.first <= span.last
