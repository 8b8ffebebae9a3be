"""Export selection: /metrics carries only the scopes, windows and KPIs the settings name, while
/v1/kpis still answers everything (a 10k-rep organisation keeps Prometheus cardinality down)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from bench.scrape import BaselineCollector, worker_registries
from events.settings import Settings
from projections.collector import KpiCollector, ReportCache
from projections.effects import SCOPES
from projections.export_selection import ExportSelection, parse_names
from projections.kpi_exposition import render_registry
from projections.kpis import KPI_DEFINITIONS
from projections.readout import read_kpis, report
from projections.timebase import BucketGrid
from projections.windows import WINDOWS
from streams.app import create_app
from tests.support.collector_samples import EVENTS, NOW, VersionedStore
from tests.support.factories import store_of

GRID = BucketGrid("UTC")
AS_OF = "2026-02-14T15:20:00Z"  # NOW
SELECTIONS = [
    {"scopes": "team,company"},
    {"windows": "30d"},
    {"kpis": "revenue,win_ratio,cac"},
    {"scopes": "channel", "windows": "1h,qtd", "kpis": "calls,average_basket"},
    {"scopes": "*", "windows": "", "kpis": " * "},
]


def kpi_samples(text: bytes) -> dict[tuple[str, str, str, str], float]:
    return {
        (s.name, s.labels["scope"], s.labels["id"], s.labels["window"]): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if "window" in s.labels
    }


@pytest.fixture
def scrape_with():
    """Factory: (everything the baseline exports, what a collector with a selection exports)."""

    def scrape(**names: str) -> tuple[bytes, bytes]:
        source = VersionedStore(store_of(EVENTS))
        old, new = worker_registries(
            BaselineCollector(source, GRID, "EUR", lambda: NOW, ReportCache()),
            KpiCollector(
                source, GRID, "EUR", lambda: NOW, ReportCache(), ExportSelection.parse(**names)
            ),
        )
        return generate_latest(old), render_registry(new)

    return scrape


@pytest.mark.parametrize("names", SELECTIONS, ids=lambda names: repr(names))
def test_a_selection_exports_exactly_the_series_it_names(scrape_with, names):
    everything, selected = scrape_with(**names)
    chosen = ExportSelection.parse(**names)

    expected = {
        series: value
        for series, value in kpi_samples(everything).items()
        if series[0].removeprefix("sales_") in chosen.kpis
        and series[1] in chosen.scopes
        and series[3] in chosen.windows
    }

    assert kpi_samples(selected) == expected
    assert expected


@pytest.mark.parametrize("names", SELECTIONS, ids=lambda names: repr(names))
def test_only_the_selected_kpi_families_appear_and_the_currency_always_does(scrape_with, names):
    _, selected = scrape_with(**names)
    families = {family.name for family in text_string_to_metric_families(selected.decode())}
    kpis = ExportSelection.parse(**names).kpis

    assert {name for name in families if name.startswith("sales_")} == {
        "sales_reporting_currency_info",
        *(f"sales_{name}" for name in kpis),
    }


def test_no_selection_is_the_whole_contract(scrape_with):
    everything, selected = scrape_with()

    assert selected == everything
    assert ExportSelection() == ExportSelection(SCOPES, WINDOWS, tuple(KPI_DEFINITIONS))


@pytest.mark.parametrize(
    ("field", "value", "stored"),
    [
        ("metrics_scopes", "", "*"),
        ("metrics_scopes", "*", "*"),
        ("metrics_scopes", "company, TEAM", "team,company"),
        ("metrics_scopes", "rep,team,company,channel,segment", "*"),
        ("metrics_scopes", "rep,team,company,channel", "rep,team,company,channel"),
        ("metrics_windows", "qtd,30d,30d", "30d,qtd"),
        ("metrics_kpis", "cac,revenue", "revenue,cac"),
    ],
)
def test_settings_store_a_selection_in_contract_order(field, value, stored):
    assert getattr(Settings(**{field: value}), field) == stored


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("metrics_scopes", "reps", "'reps'"),
        ("metrics_windows", "30d,90d", "'90d'"),
        ("metrics_kpis", "sales_revenue", "'sales_revenue'"),
        ("metrics_kpis", "revenue,*", "'*'"),
    ],
)
def test_settings_refuse_a_name_they_do_not_know_and_say_which(field, value, named):
    with pytest.raises(ValidationError, match=named):
        Settings(**{field: value})


def test_parsed_names_keep_the_canonical_order_whatever_the_order_given():
    assert parse_names("qtd, 1h ,7d", WINDOWS, "window") == ("1h", "7d", "qtd")


def _owning(ownership, store) -> None:
    """A ready worker alone in its group owning every key of ``store``."""
    ownership.is_ready = lambda: True
    ownership.owns = ownership.is_known = lambda key: True
    ownership.owned_keys = lambda: iter(sorted(store.keys()))
    ownership.report = lambda key, now: report(store.lookup, key, now, store.grid)
    ownership.read_kpis = lambda key, window, now: read_kpis(
        store.lookup, key, window, now, store.grid
    )


async def test_a_worker_exports_only_the_selection_yet_its_api_answers_every_kpi(
    tmp_path, monkeypatch
):
    monkeypatch.setattr("streams.app._utcnow", lambda: NOW)  # the scrape's wall clock
    settings = Settings(
        kafka_bootstrap="127.0.0.1:9",
        data_dir=tmp_path / "state",
        metrics_scopes="team",
        metrics_kpis="revenue",
    )
    app = create_app(settings)
    app.web.init_server()
    _owning(app.salespulse.ownership, store_of(EVENTS))
    client = TestClient(TestServer(app.web.web_app))
    await client.start_server()
    try:
        metrics = await client.get("/metrics")
        kpis = await client.get(
            "/v1/kpis", params={"scope": "rep", "id": "rep-1", "window": "1h", "as_of": AS_OF}
        )
        exported = kpi_samples(await metrics.read())
        answer = await kpis.json()
    finally:
        await client.close()

    assert {(name, scope) for name, scope, _, _ in exported} == {("sales_revenue", "team")}
    assert exported[("sales_revenue", "team", "team-1", "1h")] == 250.0
    assert kpis.status == 200
    assert answer["kpis"]["revenue"] == 250.0
    assert answer["kpis"]["conversion_ratio"] == 1.0
