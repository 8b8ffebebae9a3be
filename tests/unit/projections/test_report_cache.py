"""/metrics reuses a key's report until its buckets change or the windows move."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from projections.collector import KpiCollector, ReportCache, report_period
from projections.readout import report
from projections.timebase import BucketGrid
from tests.support.collector_samples import EVENTS, NOW, samples
from tests.support.factories import call, created, store_of, ts, won

GRID = BucketGrid("UTC")


class VersionedSource:
    """A worker's view with versions, counting how many bucket lookups a scrape costs."""

    def __init__(self, store) -> None:
        self.store, self.lookups, self.versions = store, 0, {}

    def owned_keys(self):
        return sorted(self.store.keys())

    def lookup(self, key, grid_name, index):
        self.lookups += 1
        return self.store.lookup(key, grid_name, index)

    def report(self, key, now):
        return report(self.lookup, key, now, self.store.grid)

    def version(self, key):
        return self.versions.get(key, 0)


def scraper(source, clock):
    registry = CollectorRegistry()
    registry.register(KpiCollector(source, source.store.grid, "EUR", clock, ReportCache()))
    return registry


def test_a_second_scrape_with_nothing_changed_reads_no_bucket_and_exports_the_same():
    source = VersionedSource(store_of(EVENTS))
    registry = scraper(source, lambda: NOW)
    first = samples(registry)
    read_first, source.lookups = source.lookups, 0
    assert read_first > 0
    assert samples(registry) == first
    assert source.lookups == 0


def test_only_the_keys_a_fold_changed_are_read_again():
    store = store_of(EVENTS)
    source = VersionedSource(store)
    registry = scraper(source, lambda: NOW)
    samples(registry)
    full_scrape, source.lookups = source.lookups, 0
    more = store_of([*EVENTS, call("2026-02-14T15:10:00Z", rep_id="rep-3", team_id="team-2")])
    source.store = more
    source.versions = {"rep|rep-3": 1, "team|team-2": 1, "company|": 1}  # what the call touched
    after = samples(registry)
    assert after == samples(scraper(VersionedSource(more), lambda: NOW))
    assert source.lookups == full_scrape * 3 // len(store.keys())


@pytest.mark.parametrize(
    "later",
    [timedelta(hours=1), timedelta(days=1), timedelta(days=40)],
    ids=["next hour", "next day", "next month"],
)
def test_when_the_windows_move_every_report_is_computed_again(later):
    source = VersionedSource(store_of(EVENTS))
    clock = {"now": NOW}
    registry = scraper(source, lambda: clock["now"])
    samples(registry)
    clock["now"] = NOW + later
    assert samples(registry) == samples(scraper(VersionedSource(source.store), lambda: NOW + later))


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("2026-02-14T15:00:00Z", "2026-02-14T15:59:59Z", True),
        ("2026-02-14T15:59:59Z", "2026-02-14T16:00:00Z", False),
        ("2026-02-14T23:30:00Z", "2026-02-15T00:30:00Z", False),
    ],
)
def test_the_report_period_is_the_utc_hour_and_the_local_date(a, b, same):
    assert (report_period(ts(a), GRID) == report_period(ts(b), GRID)) is same


def test_a_cached_report_is_reused_only_for_the_same_version_and_period():
    cache, computed = ReportCache(), []

    def compute():
        computed.append(1)
        return {"1h": {}}

    cache.report("k", 0, (1, "d"), compute)
    cache.report("k", 0, (1, "d"), compute)
    cache.report("k", 1, (1, "d"), compute)
    cache.report("k", 1, (2, "d"), compute)
    assert len(computed) == 3


def test_a_store_grown_by_a_won_deal_is_exported_like_a_fresh_scrape():
    store = store_of(EVENTS)
    source = VersionedSource(store)
    registry = scraper(source, lambda: NOW)
    samples(registry)
    grown = store_of(
        [*EVENTS, created("d-9", "2026-02-14T15:02:00Z"), won("d-9", "2026-02-14T15:09:00Z")]
    )
    source.store = grown
    source.versions = dict.fromkeys(grown.keys(), 1)
    assert samples(registry) == samples(scraper(VersionedSource(grown), lambda: NOW))


def test_a_keys_version_changes_with_a_fold_into_it_and_with_any_rebalance():
    from types import SimpleNamespace

    from streams.ownership import Ownership

    app = SimpleNamespace(rebalancing_count=3)
    ownership = Ownership(app, None, "kpi-deltas", 4, GRID)
    before = ownership.version("rep|rep-1")
    ownership.mark_changed(["team|team-1"])
    assert ownership.version("rep|rep-1") == before
    ownership.mark_changed(iter(["rep|rep-1"]))
    folded = ownership.version("rep|rep-1")
    assert folded != before
    app.rebalancing_count += 1
    assert ownership.version("rep|rep-1") != folded


@pytest.mark.parametrize("scrapes", [2, 5])
def test_the_same_period_computed_again_by_each_scrape_keeps_the_cache(scrapes):
    cache, computed = ReportCache(), []

    for _ in range(scrapes):
        period = report_period(NOW, GRID)  # a new, equal tuple at every scrape
        for key in ("a", "b"):
            cache.report(key, 0, period, lambda: computed.append(1))

    assert len(computed) == 2
    cache.report("a", 0, report_period(NOW + timedelta(hours=1), GRID), lambda: computed.append(1))
    assert len(computed) == 3
