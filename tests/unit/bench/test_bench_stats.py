"""The benchmarks' pure helpers: percentiles, rates, ratio formatting, profile categories."""

from __future__ import annotations

import math

import pytest

from bench.profile import OTHER, categorize, parse, summary
from bench.stats import (
    Figure,
    format_ms,
    format_rate,
    format_ratio,
    middle_rate,
    percentile,
    rate,
    ratio,
    table,
)


def test_percentile_interpolates_between_closest_ranks_like_numpy():
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 0) == 15
    assert percentile(values, 100) == 50
    assert percentile(values, 50) == 35
    assert percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile(values, 40)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)


def test_percentile_ignores_order_and_handles_edges():
    assert percentile([3, 1, 2], 50) == 2
    assert percentile([7.5], 99) == 7.5
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_rate_and_ratio_are_nan_without_a_denominator():
    assert rate(1000, 2.0) == 500
    assert math.isnan(rate(10, 0))
    assert ratio(30, 10) == 3
    assert math.isnan(ratio(1, 0))
    assert math.isnan(ratio(1, math.nan))
    assert math.isnan(ratio(math.nan, 1))


def test_formatting_of_ratios_rates_and_durations():
    assert format_ratio(12.345) == "12.3×"
    assert format_ratio(1.5) == "1.50×"
    assert format_ratio(0.0042) == "0.0042×"
    assert format_ratio(math.nan) == "n/a"
    assert format_rate(22356.4) == "22,356/s"
    assert format_rate(math.nan) == "n/a"
    assert format_ms(0.0086) == "8.6 ms"
    assert format_ms(math.nan) == "n/a"


def test_table_rows_say_whether_a_target_is_met():
    text = table([Figure("ingest", "p99", "40 ms", "≤ 50 ms", True), Figure("x", "y", "1")])
    lines = text.splitlines()
    assert lines[0].startswith("| bench |")
    assert lines[2] == "| ingest | p99 | 40 ms | ≤ 50 ms | met |"
    assert lines[3] == "| x | y | 1 |  |  |"


def test_profile_samples_are_summed_into_the_first_matching_category():
    raw = [
        "main (a.py:1);Collection.send_changelog (faust/tables/base.py:279);"
        "Topic.publish_message (faust/topics.py:437) 30",
        "main (a.py:1);Sender._send_produce_req (aiokafka/producer/sender.py:288) 50",
        "main (a.py:1);EpollSelector.select (selectors.py:468) 20",
        "not a sample line",
    ]
    samples = parse(raw)
    assert [count for _, count in samples] == [30, 50, 20]
    assert categorize(samples[0][0]) == "table writes -> changelog records"
    assert categorize(samples[2][0]) == OTHER
    text = summary(samples)
    assert "| 50.0% | producer network I/O (aiokafka sender task) |" in text
    assert "| 30.0% | table writes -> changelog records |" in text


@pytest.mark.parametrize(
    ("backlog", "expected"),
    [
        # start-up (nothing folded for 10 s), then 100 items/s, then a slow tail
        ([(0, 1000), (10, 1000), (11, 900), (19, 100), (30, 0)], 100.0),
        # the first look already below 90 %: the rate runs from that look
        ([(5, 800), (10, 300), (12, 100)], 700 / 7),
        # between the looks the backlog jumps past a bound: the first look at or below it
        ([(0, 1000), (2, 950), (4, 500), (6, 50), (8, 0)], (500 - 50) / 2),
    ],
)
def test_middle_rate_measures_the_backlog_between_ninety_and_ten_percent(backlog, expected):
    assert middle_rate(backlog, 1000) == pytest.approx(expected)


@pytest.mark.parametrize(
    "backlog",
    [[], [(0, 1000), (5, 950)], [(3, 50), (4, 0)], [(2, 0)]],
)
def test_middle_rate_is_unknown_without_two_looks_across_the_bounds(backlog):
    assert math.isnan(middle_rate(backlog, 1000))
