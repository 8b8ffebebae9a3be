"""Contract section 5, Prometheus: ``KpiCollector`` over a fake source and a fresh registry.

Text is read the way /metrics renders it (``render_registry``); ``get_sample_value`` reads the
same families through prometheus_client's own path.
"""

import math

import pytest
from prometheus_client import CollectorRegistry

from projections.collector import KpiCollector
from projections.deal import DealContribution
from projections.effects import QuarterHourCorrections, add_deal
from projections.kpi_exposition import render_registry
from projections.kpis import KPI_DEFINITIONS
from projections.readout import report
from tests.support.collector_samples import EVENTS, NOW, samples
from tests.support.factories import store_of, ts, us


class FakeSource:
    """A worker's view: the keys it owns now, and bucket lookups. Counts how often it is read."""

    def __init__(self, store, owned=None):
        self.store, self.owned, self.reads = store, owned, 0

    def owned_keys(self):
        self.reads += 1
        return sorted(self.store.keys() if self.owned is None else self.owned)

    def report(self, key, now):
        return report(self.store.lookup, key, now, self.store.grid)


def scrape_registry(source, currency="EUR", clock=lambda: NOW):
    registry = CollectorRegistry()
    registry.register(KpiCollector(source, source.store.grid, currency, clock))
    return registry


@pytest.fixture
def store():
    return store_of(EVENTS)


def test_registering_does_not_collect_and_describe_is_empty(store):
    source = FakeSource(store)
    clock_calls = []
    collector = KpiCollector(source, store.grid, "EUR", lambda: clock_calls.append(1) or NOW)
    CollectorRegistry().register(collector)
    assert collector.describe() == []
    assert (source.reads, clock_calls) == (0, [])


def test_the_reporting_currency_is_stated_once(store):
    text = render_registry(scrape_registry(FakeSource(store))).decode()
    assert text.count('sales_reporting_currency_info{currency="EUR"} 1.0\n') == 1
    usd = scrape_registry(FakeSource(store), currency="USD")
    assert usd.get_sample_value("sales_reporting_currency_info", {"currency": "USD"}) == 1.0
    assert usd.get_sample_value("sales_reporting_currency_info", {"currency": "EUR"}) is None


@pytest.mark.parametrize(
    ("scope", "scope_id", "window", "name", "value"),
    [
        ("company", "", "1h", "revenue", 250.0),
        ("company", "", "mtd", "opportunities", 2.0),
        ("company", "", "7d", "win_ratio", 0.5),
        ("company", "", "7d", "cac", 40.0),
        ("rep", "rep-1", "1h", "conversion_ratio", 1.0),
        ("rep", "rep-2", "1h", "deals_lost", 0.0),
        ("rep", "rep-2", "7d", "win_ratio", 0.0),
        ("rep", "rep-3", "24h", "calls_per_rep", 1.0),
        ("team", "team-2", "24h", "calls", 1.0),
        ("team", "team-1", "7d", "cost_sales", 40.0),
        ("channel", "email", "30d", "average_basket", 250.0),
        ("channel", "linkedin", "mtd", "active_reps", 1.0),
    ],
)
def test_each_kpi_is_a_gauge_labelled_scope_id_window(store, scope, scope_id, window, name, value):
    registry = scrape_registry(FakeSource(store))
    labels = {"scope": scope, "id": scope_id, "window": window}
    assert registry.get_sample_value(f"sales_{name}", labels) == value


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("sales_conversion_ratio", {"scope": "team", "id": "team-2", "window": "24h"}),
        ("sales_conversion_ratio", {"scope": "rep", "id": "rep-2", "window": "1h"}),
        ("sales_win_ratio", {"scope": "team", "id": "team-2", "window": "qtd"}),
        ("sales_cac", {"scope": "channel", "id": "linkedin", "window": "mtd"}),
        ("sales_calls", {"scope": "channel", "id": "email", "window": "1h"}),
        ("sales_cost_sales", {"scope": "rep", "id": "rep-1", "window": "1h"}),
        ("sales_average_basket", {"scope": "rep", "id": "rep-3", "window": "1h"}),
    ],
)
def test_absent_ratios_and_kpis_a_scope_lacks_have_no_series(store, name, labels):
    assert scrape_registry(FakeSource(store)).get_sample_value(name, labels) is None


def test_the_export_is_exactly_the_report_of_every_owned_key(store):
    exported = samples(scrape_registry(FakeSource(store)))
    expected = {}
    for key in sorted(store.keys()):
        scope, _, scope_id = key.partition("|")
        for window, kpis in (report(store.lookup, key, NOW, store.grid) or {}).items():
            for name, value in kpis.items():
                expected[(f"sales_{name}", scope, scope_id, window)] = float(value)
    assert exported == expected
    assert all(math.isfinite(value) for value in exported.values())
    assert {name for name, *_ in exported} == {f"sales_{name}" for name in KPI_DEFINITIONS}


def test_keys_not_owned_are_not_exported(store):
    registry = scrape_registry(FakeSource(store, owned={"team|team-1", "rep|rep-3"}))
    keys = {(scope, scope_id) for _, scope, scope_id, _ in samples(registry)}
    assert keys == {("team", "team-1"), ("rep", "rep-3")}
    assert (
        registry.get_sample_value("sales_revenue", {"scope": "company", "id": "", "window": "1h"})
        is None
    )


def test_an_owned_key_without_contribution_in_any_window_is_not_exported(store):
    registry = scrape_registry(FakeSource(store, owned={"rep|rep-old", "rep|unknown"}))
    assert samples(registry) == {}
    text = render_registry(registry).decode()
    assert 'sales_reporting_currency_info{currency="EUR"} 1.0' in text
    assert 'scope="' not in text


def test_two_workers_with_disjoint_keys_never_export_the_same_series(store):
    keys = sorted(store.keys())
    one = samples(scrape_registry(FakeSource(store, owned=set(keys[::2]))))
    two = samples(scrape_registry(FakeSource(store, owned=set(keys[1::2]))))
    assert set(one).isdisjoint(two)
    assert one | two == samples(scrape_registry(FakeSource(store)))


def test_every_scrape_reads_the_buckets_and_the_clock_as_they_are_then(store):
    now = [NOW]
    source = FakeSource(store)
    registry = scrape_registry(source, clock=lambda: now[0])
    labels = {"scope": "company", "id": "", "window": "1h"}
    assert registry.get_sample_value("sales_revenue", labels) == 250.0
    late_win = QuarterHourCorrections()
    add_deal(
        late_win,
        DealContribution(
            "rep-9", "team-9", None, "c9", 5_000_000, None, us("2026-02-14T15:30:00Z"), None
        ),
    )
    store.apply(late_win)
    assert registry.get_sample_value("sales_revenue", labels) == 255.0
    rep_9 = labels | {"scope": "rep", "id": "rep-9"}
    assert registry.get_sample_value("sales_revenue", rep_9) == 5.0
    now[0] = ts("2026-02-14T16:00:00Z")
    assert registry.get_sample_value("sales_revenue", labels) == 0.0
    assert source.reads == 4
