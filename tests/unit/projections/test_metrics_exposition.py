"""/metrics renders each key's lines once: the text is exactly what the gauge families gave.

The baseline is the collector /metrics used before (``bench.scrape.BaselineCollector``: gauge
families built on every scrape, then ``generate_latest``); the new path is ``KpiCollector`` and
``render_registry``. Same source, same instant: the bytes must be equal.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

import projections.collector as collector_module
from bench.scrape import BaselineCollector, SyntheticSource, worker_registries
from projections.collector import KpiCollector, ReportCache
from projections.kpi_exposition import RenderedFamily, escape_label_value, render_registry
from projections.readout import bucket_updates, report
from projections.tally import Tally
from projections.timebase import BucketGrid, quarter_of, to_us
from tests.support.collector_samples import EVENTS, NOW, VersionedStore
from tests.support.factories import call, store_of

GRID = BucketGrid("UTC")
HOSTILE_IDS = ["back\\slash", 'a "quoted" id', "new\nline", "ünïcødé €", "}{=,", "\\n", ""]


class TallySource:
    """Keys given directly, one contribution each in this hour (so in every window)."""

    def __init__(self, contributions: dict[str, Tally]) -> None:
        self.buckets, self.keys = {}, list(contributions)
        for key, tally in contributions.items():
            parts = bucket_updates([(quarter_of(to_us(NOW)), tally)], GRID)
            for (grid_name, index), part in parts.items():
                self.buckets[(key, grid_name, index)] = part

    def owned_keys(self):
        return list(self.keys)

    def lookup(self, key, grid_name, index):
        return self.buckets.get((key, grid_name, index))

    def report(self, key, now):
        return report(self.lookup, key, now, GRID)

    def version(self, key):
        return 0


def registries(source, cached=True, currency="EUR"):
    """(baseline registry, new registry) over one source, laid out like a worker's."""
    return worker_registries(
        BaselineCollector(source, GRID, currency, lambda: NOW, ReportCache()),
        KpiCollector(source, GRID, currency, lambda: NOW, ReportCache() if cached else None),
    )


@pytest.fixture
def formatted(monkeypatch) -> list[str]:
    """Every key whose lines the collector renders, in order (it renders a key only when its
    report may have changed)."""
    seen: list[str] = []
    real = collector_module.key_lines
    monkeypatch.setattr(
        collector_module, "key_lines", lambda key, *rest: seen.append(key) or real(key, *rest)
    )
    return seen


def sample_set(text: bytes) -> set[tuple]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        # a counter's _created sample, not a gauge such as sales_pipeline_created
        if not (s.name.endswith("_created") and family.type != "gauge")
    }


def kpi_series(text: bytes) -> list[tuple]:
    return [s for s in sample_set(text) if dict(s[1]).get("window")]


def key_of(sample: tuple) -> str:
    labels = dict(sample[1])
    return f"{labels['scope']}|{labels['id']}"


def activity(revenue_micros: int, calls: int = 3) -> Tally:
    counts = {"opportunities": 3, "deals_won": 2, "deals_lost": 1, "calls": calls}
    counts |= {"revenue": revenue_micros, "new_customers": 1, "cost_sales": 7_000_000}
    return Tally(counts, {"rep-1": 1, "rep-2": 1}, {"c-1": 1, "c-2": 1})


@pytest.mark.parametrize(
    "owned",
    [None, {"team|team-1", "rep|rep-3"}, {"rep|rep-old", "rep|unknown"}, set()],
    ids=["every key", "two keys", "keys without contribution", "nothing owned"],
)
@pytest.mark.parametrize("cached", [True, False], ids=["cached", "uncached"])
def test_the_rendered_metrics_are_byte_for_byte_what_the_gauge_families_gave(owned, cached):
    old, new = registries(VersionedStore(store_of(EVENTS), owned), cached=cached)

    assert render_registry(new) == generate_latest(old)
    assert sample_set(render_registry(new)) == sample_set(generate_latest(old))


@pytest.mark.parametrize("scope_id", HOSTILE_IDS)
def test_label_values_are_escaped_exactly_as_prometheus_client_escapes_them(scope_id):
    source = TallySource({f"rep|{scope_id}": activity(12_345_000), "company|": activity(5)})
    old, new = registries(source)

    text = render_registry(new)

    assert text == generate_latest(old)
    rep_ids = {dict(s[1])["id"] for s in kpi_series(text) if dict(s[1])["scope"] == "rep"}
    assert rep_ids == {scope_id}


@settings(max_examples=60, deadline=None)
@given(
    scope_id=st.text(max_size=12),
    revenue=st.integers(min_value=0, max_value=10**19),
    calls=st.integers(min_value=0, max_value=10**7),
)
def test_any_id_and_amount_renders_as_generate_latest_renders_it(scope_id, revenue, calls):
    old, new = registries(TallySource({f"team|{scope_id}": activity(revenue, calls)}))

    assert render_registry(new) == generate_latest(old)


@pytest.mark.parametrize("text", HOSTILE_IDS)
def test_escaping_a_label_value_matches_a_gauge_rendered_by_prometheus_client(text):
    family = GaugeMetricFamily("x", "x", labels=["id"])
    family.add_metric([text], 1)
    registry = CollectorRegistry()
    registry.register(type("One", (), {"collect": lambda self: [family]})())

    assert f'x{{id="{escape_label_value(text)}"}} 1.0\n'.encode() in generate_latest(registry)


@pytest.mark.parametrize("reps", [1, 40])
def test_a_worker_sized_mix_of_scopes_renders_identically_first_and_after_changes(reps):
    source = SyntheticSource(GRID, reps)
    old, new = registries(source)
    assert render_registry(new) == generate_latest(old)

    source.change(0.2)

    assert render_registry(new) == generate_latest(old)


def test_every_family_is_contiguous_under_one_help_and_type_header():
    _, new = registries(SyntheticSource(GRID, 12))
    text = render_registry(new).decode()

    families = [family.name for family in text_string_to_metric_families(text)]
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")]

    assert len(families) == len(set(families))
    assert len(helps) == len(set(helps))
    assert len([name for name in families if name.startswith("sales_")]) == 24


def test_a_scrape_with_nothing_changed_formats_no_value_again(formatted):
    _, new = registries(VersionedStore(store_of(EVENTS)))

    first = render_registry(new)
    on_first = list(formatted)
    formatted.clear()
    again = render_registry(new)

    assert {key_of(s) for s in kpi_series(first)} <= set(on_first)
    assert len(on_first) == len(set(on_first)) > 0
    assert (again, formatted) == (first, [])


def test_only_the_keys_a_fold_changed_are_rendered_again(formatted):
    source = VersionedStore(store_of(EVENTS))
    old, new = registries(source)
    render_registry(new)
    formatted.clear()
    touched = {"rep|rep-3", "team|team-2", "company|"}

    source.store = store_of(
        [*EVENTS, call("2026-02-14T15:10:00Z", rep_id="rep-3", team_id="team-2")]
    )
    source.versions = dict.fromkeys(touched, 1)
    text = render_registry(new)

    assert set(formatted) == touched
    assert text == generate_latest(old)


def test_reading_the_registry_the_usual_way_gives_the_same_text():
    _, new = registries(SyntheticSource(GRID, 5))

    assert generate_latest(new) == render_registry(new)
    labels = {"scope": "company", "id": "", "window": "1h"}
    assert new.get_sample_value("sales_opportunities", labels) is not None


def test_a_rendered_familys_samples_cannot_be_added_to():
    family = RenderedFamily("sales_x", "x", "gauge", (b"# HELP sales_x x\n",))

    with pytest.raises(TypeError):
        family.add_sample("sales_x", {}, 1.0)
