"""Half-open windows end to end: events at the edges through ``BucketStore`` and ``report``.

An event exactly at a window's start counts, one exactly at its end does not; events after ``now``
but inside the window count (``as_of`` moves the window, it hides nothing).
"""

from datetime import timedelta

import pytest

from projections.windows import WINDOWS
from tests.support.factories import call, created, kpis_at, store_of, ts, won

ONE_US = timedelta(microseconds=1)
NOW = "2026-02-14T15:20:00Z"

# (zone, now, window, start, end): start and end as UTC instants.
EDGES = [
    ("UTC", NOW, "1h", "2026-02-14T15:00:00Z", "2026-02-14T16:00:00Z"),
    ("UTC", NOW, "24h", "2026-02-13T16:00:00Z", "2026-02-14T16:00:00Z"),
    ("UTC", NOW, "7d", "2026-02-08T00:00:00Z", "2026-02-15T00:00:00Z"),
    ("UTC", NOW, "30d", "2026-01-16T00:00:00Z", "2026-02-15T00:00:00Z"),
    ("UTC", NOW, "mtd", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
    ("UTC", NOW, "qtd", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"),
    ("UTC", "2025-12-31T23:59:59Z", "1h", "2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"),
    ("UTC", "2025-12-31T23:59:59Z", "qtd", "2025-10-01T00:00:00Z", "2026-01-01T00:00:00Z"),
    ("UTC", "2026-01-01T00:00:00Z", "24h", "2025-12-31T01:00:00Z", "2026-01-01T01:00:00Z"),
    ("UTC", "2026-01-01T00:00:00Z", "mtd", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"),
    ("UTC", "2026-03-31T23:30:00Z", "30d", "2026-03-02T00:00:00Z", "2026-04-01T00:00:00Z"),
    ("UTC", "2026-04-01T00:00:00Z", "qtd", "2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z"),
    ("Europe/Paris", NOW, "mtd", "2026-01-31T23:00:00Z", "2026-02-28T23:00:00Z"),
    ("Europe/Paris", NOW, "qtd", "2025-12-31T23:00:00Z", "2026-03-31T22:00:00Z"),
    ("Europe/Paris", NOW, "1h", "2026-02-14T15:00:00Z", "2026-02-14T16:00:00Z"),
    ("Europe/Paris", NOW, "7d", "2026-02-08T00:00:00Z", "2026-02-15T00:00:00Z"),
    ("Asia/Kolkata", NOW, "mtd", "2026-01-31T18:30:00Z", "2026-02-28T18:30:00Z"),
    ("Asia/Kolkata", NOW, "qtd", "2025-12-31T18:30:00Z", "2026-03-31T18:30:00Z"),
    ("Asia/Kolkata", NOW, "30d", "2026-01-16T00:00:00Z", "2026-02-15T00:00:00Z"),
    (
        "America/New_York",
        "2026-03-15T12:00:00Z",
        "mtd",
        "2026-03-01T05:00:00Z",
        "2026-04-01T04:00:00Z",
    ),
    (
        "America/New_York",
        "2026-11-15T12:00:00Z",
        "mtd",
        "2026-11-01T04:00:00Z",
        "2026-12-01T05:00:00Z",
    ),
    (
        "America/New_York",
        "2026-11-15T12:00:00Z",
        "qtd",
        "2026-10-01T04:00:00Z",
        "2027-01-01T05:00:00Z",
    ),
]
PROBES = [
    pytest.param("start", timedelta(0), 1, id="at-start"),
    pytest.param("start", -ONE_US, 0, id="just-before-start"),
    pytest.param("end", -ONE_US, 1, id="just-before-end"),
    pytest.param("end", timedelta(0), 0, id="at-end"),
]


def _at(edge: tuple, which: str, shift: timedelta) -> str:
    _, _, _, start, end = edge
    return (ts(start if which == "start" else end) + shift).isoformat()


def _calls(store, window: str, now: str) -> int:
    kpis = kpis_at(store, "company|", window, ts(now))
    return 0 if kpis is None else kpis["calls"]


@pytest.mark.parametrize(("which", "shift", "counted"), PROBES)
@pytest.mark.parametrize("edge", EDGES, ids=lambda e: f"{e[0]}-{e[1]}-{e[2]}")
def test_a_call_at_the_window_start_counts_and_one_at_the_end_does_not(edge, which, shift, counted):
    zone, now, window, _, _ = edge
    store = store_of([call(_at(edge, which, shift))], tz=zone)
    assert _calls(store, window, now) == counted


@pytest.mark.parametrize("edge", EDGES, ids=lambda e: f"{e[0]}-{e[1]}-{e[2]}")
def test_deal_milestones_on_the_edges_count_only_at_the_start(edge):
    zone, now, window, start, end = edge
    store = store_of(
        [
            created("d-in", _at(edge, "start", timedelta(0)), amount=10),
            won("d-in", _at(edge, "end", -ONE_US)),
            created("d-out", _at(edge, "start", -ONE_US), amount=20, customer_id="cust-2"),
            won("d-out", _at(edge, "end", timedelta(0))),
        ],
        tz=zone,
    )
    kpis = kpis_at(store, "team|team-1", window, ts(now))
    assert (kpis["opportunities"], kpis["deals_won"], kpis["revenue"]) == (1, 1, 10.0)
    assert (kpis["customers"], kpis["new_customers"], kpis["conversion_ratio"]) == (1, 1, 1.0)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "Asia/Kolkata"])
def test_a_key_with_any_contribution_is_reported_in_all_six_windows_with_zeros_elsewhere(zone):
    store = store_of([call("2026-01-20T12:00:00Z", rep_id="rep-7")], tz=zone)
    windows = {window: kpis_at(store, "rep|rep-7", window, ts(NOW)) for window in WINDOWS}
    assert {window: kpis["calls"] for window, kpis in windows.items()} == {
        "1h": 0,
        "24h": 0,
        "7d": 0,
        "30d": 1,
        "mtd": 0,
        "qtd": 1,
    }
    assert windows["1h"] == {
        "revenue": 0.0,
        "opportunities": 0,
        "deals_won": 0,
        "deals_lost": 0,
        "active_reps": 0,
        "calls": 0,
        "customers": 0,
        "new_customers": 0,
        "pipeline_created": 0.0,
        "open_deals": 0,
        "open_pipeline": 0.0,
        "weighted_pipeline": 0.0,
    }
    assert windows["qtd"]["active_reps"] == 1
    assert windows["qtd"]["calls_per_rep"] == 1.0


@pytest.mark.parametrize(
    ("now", "reported"),
    [
        pytest.param("2026-01-20T12:00:00Z", True, id="same-hour"),
        pytest.param("2026-03-31T23:59:59Z", True, id="end-of-quarter"),
        pytest.param("2026-04-01T00:00:00Z", False, id="next-quarter-past-30d"),
        pytest.param("2025-12-31T23:59:59Z", False, id="before-the-call"),
        pytest.param("2026-02-18T12:00:00Z", True, id="29-days-later"),
    ],
)
def test_a_key_whose_contributions_lie_outside_all_six_windows_is_not_reported(now, reported):
    store = store_of([call("2026-01-20T12:00:00Z", rep_id="rep-7")])
    assert (kpis_at(store, "rep|rep-7", "1h", ts(now)) is not None) is reported


def test_windows_sum_several_buckets_and_count_distinct_members_once():
    store = store_of(
        [
            call("2026-02-14T15:01:00Z", rep_id="rep-1"),
            call("2026-02-14T15:59:00Z", rep_id="rep-1"),
            call("2026-02-14T09:00:00Z", rep_id="rep-2"),
            call("2026-02-10T09:00:00Z", rep_id="rep-3"),
            call("2026-01-20T09:00:00Z", rep_id="rep-1"),
        ]
    )
    got = {
        window: (kpis["calls"], kpis["active_reps"])
        for window in WINDOWS
        for kpis in [kpis_at(store, "team|team-1", window, ts(NOW))]
    }
    assert got == {
        "1h": (2, 1),
        "24h": (3, 2),
        "7d": (4, 3),
        "30d": (5, 3),
        "mtd": (4, 3),
        "qtd": (5, 3),
    }
