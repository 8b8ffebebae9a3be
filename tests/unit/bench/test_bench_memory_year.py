"""The year-long memory benchmark's pure parts: slicing a year, judging "flat"."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bench.memory_year import (
    DAYS,
    Sample,
    change,
    figures_of,
    is_flat,
    reference_and_last,
    sample_table,
    slices,
)
from bench.workload import DAY, Shape, history

END = datetime(2026, 6, 1, tzinfo=UTC)
START_S = END.timestamp() - DAYS * DAY


def stamp(day: float) -> str:
    return datetime.fromtimestamp(START_S + day * DAY, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_slices_cut_the_year_by_event_time_and_keep_arrival_order():
    events = [{"id": i, "occurred_at": stamp(day)} for i, day in enumerate((0.5, 31, 29.9, 364.9))]
    parts = slices(events, START_S, 30)
    assert [day for day, _ in parts][:3] == [30, 60, 90] and parts[-1][0] == DAYS
    assert len(parts) == 13
    assert [e["id"] for e in parts[0][1]] == [0, 2]
    assert [e["id"] for e in parts[1][1]] == [1]
    assert [e["id"] for e in parts[-1][1]] == [3]


def test_slices_of_a_generated_year_hold_every_event_once():
    log = history(3_000, END, Shape(reps=20, teams=4, customers=100, days=DAYS))
    parts = slices(log, START_S, 30)
    assert sum(len(part) for _, part in parts) == len(log)
    assert all(part for _, part in parts)  # constant rate: no empty month


def sample(day: int, rss: float, state: float, disk: float = 1.0) -> Sample:
    return Sample(day, day * 100, 1.0, rss, rss, disk, 5000, state, 900, 1000, 0.01)


def test_flat_compares_the_last_slice_with_the_first_past_the_reference_day():
    samples = [sample(90, 100, 10), sample(120, 150, 15), sample(150, 160, 16), sample(365, 176, 8)]
    reference, last = reference_and_last(samples)
    assert (reference.day, last.day) == (150, 365)
    assert math.isclose(change(last.rss_mb, reference.rss_mb), 0.10)
    assert math.isclose(change(last.state_mb, reference.state_mb), -0.5)
    assert is_flat(0.10, -0.5) and not is_flat(0.10, 0.25)
    assert not is_flat(change(1.0, 0.0))  # growth from nothing is not flat


def test_the_figures_judge_rss_and_live_state_together_and_du_apart():
    samples = [sample(150, 160, 16, disk=2.0), sample(365, 170, 17, disk=9.0)]
    run, flat, disk, exact = figures_of(samples, Shape(reps=10, teams=2), "100 days", [])
    assert flat.met is True and "day 365 vs day 150" in flat.name
    assert disk.met is False and "+350%" in disk.value
    assert exact.met is True and "retention 100 days" in run.name


def test_the_sample_table_has_a_row_per_slice():
    text = sample_table([sample(30, 100, 1.5), sample(60, 120, 2.5)])
    assert text.count("\n") == 3 and "| 60 | 6,000 |" in text
