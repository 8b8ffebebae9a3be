"""Event time as integers and the three bucket grids (``projections.timebase``)."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.timestamps import EARLIEST_INSTANT, LATEST_INSTANT
from projections.timebase import (
    QUARTER_US,
    BucketGrid,
    Grid,
    civil_from_days,
    day_index,
    days_from_civil,
    from_us,
    quarter_of,
    to_us,
)
from tests.support.factories import ts


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


def test_a_grid_is_named_by_the_letter_bucket_keys_have_always_held():
    assert [(grid.name, grid.value) for grid in Grid] == [
        ("HOURLY", "h"),
        ("DAILY", "d"),
        ("LOCAL_DAILY", "l"),
    ]
    assert orjson.dumps(["team|t", Grid.LOCAL_DAILY, 7]) == b'["team|t","l",7]'
    assert f"{Grid.DAILY}|{Grid.HOURLY}" == "d|h"


@pytest.mark.parametrize(
    ("zone", "utc", "grids"),
    [
        ("UTC", True, (Grid.HOURLY, Grid.DAILY)),
        ("Etc/UTC", True, (Grid.HOURLY, Grid.DAILY)),
        ("Europe/Paris", False, (Grid.HOURLY, Grid.DAILY, Grid.LOCAL_DAILY)),
        ("Asia/Kolkata", False, (Grid.HOURLY, Grid.DAILY, Grid.LOCAL_DAILY)),
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
        Grid.HOURLY: at_us // (3600 * 10**6),
        Grid.DAILY: day_index(utc_day),
        Grid.LOCAL_DAILY: day_index(local_day),
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
    assert dict(grid.buckets_of(quarter))[Grid.LOCAL_DAILY] == grid.local_day_of(from_us(first))


# Totality (issue 13): no instant the edge accepts, in no zone, raises in an agent.

ALL_ZONES = sorted(available_timezones())
EDGE_INSTANTS = [
    EARLIEST_INSTANT,
    EARLIEST_INSTANT + timedelta(minutes=15) - timedelta(microseconds=1),
    LATEST_INSTANT - timedelta(microseconds=1),
]


@pytest.mark.parametrize("zone", ALL_ZONES)
def test_every_zone_places_the_earliest_and_latest_accepted_instants_in_its_local_day(zone):
    grid = BucketGrid(zone)
    for moment in EDGE_INSTANTS:
        quarter = quarter_of(to_us(moment))
        expected = day_index(from_us(quarter * QUARTER_US).astimezone(ZoneInfo(zone)).date())
        assert dict(grid.buckets_of(quarter)).get(Grid.LOCAL_DAILY, expected) == expected
        assert grid.local_day_of(moment) == day_index(moment.astimezone(ZoneInfo(zone)).date())


@pytest.mark.parametrize(
    "zone", ["Pacific/Kiritimati", "America/Adak", "Pacific/Pago_Pago", "Etc/GMT+12", "Etc/GMT-14"]
)
@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(datetime(1, 1, 1, tzinfo=UTC), id="datetime-min"),
        pytest.param(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23))), id="before-min"),
        pytest.param(datetime(9999, 12, 31, 23, 59, tzinfo=UTC), id="datetime-max"),
        pytest.param(datetime(9999, 12, 31, tzinfo=timezone(timedelta(hours=-23))), id="after"),
    ],
)
def test_bucket_indexes_are_total_even_for_instants_the_edge_refuses(zone, moment):
    # The 0001-01-01 event of issue 13 raised "date value out of range" in the apply agent.
    grid = BucketGrid(zone)
    at_us = to_us(moment)
    local = dict(grid.buckets_of(quarter_of(at_us)))[Grid.LOCAL_DAILY]
    assert abs(local - at_us // (86_400 * 10**6)) <= 1
    assert grid.local_day_of(moment) == local


@pytest.mark.parametrize("quarter", [-(10**18), -1, 10**18])
def test_bucket_indexes_exist_for_any_integer_quarter(quarter):
    for zone in ("America/Adak", "Pacific/Kiritimati"):
        buckets = dict(BucketGrid(zone).buckets_of(quarter))
        assert abs(buckets[Grid.LOCAL_DAILY] - buckets[Grid.DAILY]) <= 1


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_civil_day_numbers_agree_with_the_calendar_and_invert_each_other(days):
    year, month, day = civil_from_days(days)
    assert days_from_civil(year, month, day) == days
    if -719_162 <= days <= 2_932_896:  # date's range, years 1 to 9999
        assert date(year, month, day) == date(1970, 1, 1) + timedelta(days=days)
