"""Event time as integers and the three bucket grids (``projections.timebase``)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.timebase import (
    DAILY,
    HOURLY,
    LOCAL_DAILY,
    QUARTER_US,
    BucketGrid,
    day_index,
    from_us,
    quarter_of,
    to_us,
)
from tests.unit.factories import ts


@pytest.mark.parametrize(
    ("moment", "micros"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), 1),
        (datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), -1),
        (datetime(2026, 2, 14, 16, 20, tzinfo=timezone(timedelta(hours=1))), 1_771_082_400_000_000),
        (datetime(2262, 4, 11, 23, 47, 16, 854_775, tzinfo=UTC), 9_223_372_036_854_775),
    ],
)
def test_to_us_is_exact_epoch_microseconds(moment, micros):
    assert to_us(moment) == micros
    assert from_us(micros) == moment
    assert from_us(micros).tzinfo is UTC


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_from_us_inverts_to_us(moment):
    assert from_us(to_us(moment)) == moment


@pytest.mark.parametrize(
    ("at", "quarter_start"),
    [
        ("2026-02-14T15:00:00Z", "2026-02-14T15:00:00Z"),
        ("2026-02-14T15:14:59.999999Z", "2026-02-14T15:00:00Z"),
        ("2026-02-14T15:15:00Z", "2026-02-14T15:15:00Z"),
        ("2026-02-14T23:59:59Z", "2026-02-14T23:45:00Z"),
    ],
)
def test_quarter_of_truncates_to_the_quarter_hour(at, quarter_start):
    assert quarter_of(to_us(ts(at))) * QUARTER_US == to_us(ts(quarter_start))


@pytest.mark.parametrize(
    ("zone", "utc", "grids"),
    [
        ("UTC", True, (HOURLY, DAILY)),
        ("Etc/UTC", True, (HOURLY, DAILY)),
        ("Europe/Paris", False, (HOURLY, DAILY, LOCAL_DAILY)),
        ("Asia/Kolkata", False, (HOURLY, DAILY, LOCAL_DAILY)),
    ],
)
def test_the_local_grid_is_kept_only_outside_utc(zone, utc, grids):
    grid = BucketGrid(zone)
    assert (grid.local_is_utc, grid.grids) == (utc, grids)
    assert [name for name, _ in grid.buckets_of(0)] == list(grids)


@pytest.mark.parametrize(
    ("zone", "at", "utc_day", "local_day"),
    [
        ("Europe/Paris", "2026-01-31T22:45:00Z", date(2026, 1, 31), date(2026, 1, 31)),
        ("Europe/Paris", "2026-01-31T23:00:00Z", date(2026, 1, 31), date(2026, 2, 1)),
        ("Europe/Paris", "2026-03-31T21:45:00Z", date(2026, 3, 31), date(2026, 3, 31)),
        ("Europe/Paris", "2026-03-31T22:00:00Z", date(2026, 3, 31), date(2026, 4, 1)),
        ("Asia/Kolkata", "2026-01-31T18:15:00Z", date(2026, 1, 31), date(2026, 1, 31)),
        ("Asia/Kolkata", "2026-01-31T18:30:00Z", date(2026, 1, 31), date(2026, 2, 1)),
        ("Asia/Kathmandu", "2026-01-31T18:15:00Z", date(2026, 1, 31), date(2026, 2, 1)),
        ("America/New_York", "2026-03-01T04:45:00Z", date(2026, 3, 1), date(2026, 2, 28)),
        ("America/New_York", "2026-03-01T05:00:00Z", date(2026, 3, 1), date(2026, 3, 1)),
        ("America/New_York", "2026-11-01T03:45:00Z", date(2026, 11, 1), date(2026, 10, 31)),
        ("America/New_York", "2026-11-01T04:00:00Z", date(2026, 11, 1), date(2026, 11, 1)),
    ],
)
def test_a_quarter_hour_lies_in_one_hour_one_utc_day_and_one_local_day(
    zone, at, utc_day, local_day
):
    at_us = to_us(ts(at))
    buckets = dict(BucketGrid(zone).buckets_of(quarter_of(at_us)))
    assert buckets == {
        HOURLY: at_us // (3600 * 10**6),
        DAILY: day_index(utc_day),
        LOCAL_DAILY: day_index(local_day),
    }
    assert BucketGrid(zone).local_day_of(ts(at)) == day_index(local_day)


@settings(max_examples=200, deadline=None, database=None)
@given(
    zone=st.sampled_from(
        [
            "Europe/Paris",
            "Asia/Kolkata",
            "America/New_York",
            "Asia/Kathmandu",
            "America/St_Johns",
            "Australia/Lord_Howe",
        ]
    ),
    quarter=st.integers(
        min_value=quarter_of(to_us(ts("2000-01-01T00:00:00Z"))),
        max_value=quarter_of(to_us(ts("2040-01-01T00:00:00Z"))),
    ),
)
def test_every_microsecond_of_a_quarter_hour_is_in_the_same_local_day(zone, quarter):
    grid = BucketGrid(zone)
    first, last = quarter * QUARTER_US, (quarter + 1) * QUARTER_US - 1
    assert grid.local_day_of(from_us(first)) == grid.local_day_of(from_us(last))
    assert dict(grid.buckets_of(quarter))[LOCAL_DAILY] == grid.local_day_of(from_us(first))
