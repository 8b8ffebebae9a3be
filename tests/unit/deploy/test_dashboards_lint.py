"""The Grafana dashboards pass deploy/grafana/lint.sh and have the structure the team relies on."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
LINT_SH = REPO / "deploy" / "grafana" / "lint.sh"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
SALES = DASHBOARDS / "sales-performance.json"
OPS = DASHBOARDS / "operations.json"
WINDOWS = ["1h", "24h", "7d", "30d", "mtd", "qtd"]
V2_KPIS = [
    "pipeline_created",
    "average_deal_size",
    "time_to_win_seconds",
    "open_deals",
    "open_pipeline",
    "weighted_pipeline",
]


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found += panel.get("panels", [])
    return [p for p in found if p["type"] != "row"]


def exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p["targets"]]


def basket_over_cac(scope: str) -> str:
    selector = f'job=~"$job", scope="{scope}", window="$window"'
    return (
        f"sum by (id) (sales_average_basket{{{selector}}})"
        f" / (sum by (id) (sales_cac{{{selector}}}) > 0)"
    )


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_SH), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_dashboard_passes_the_linter():
    result = lint()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "dashboards OK: 2 linted" in result.stdout


def test_the_two_dashboards_have_their_uids_and_titles():
    assert sorted(p.name for p in DASHBOARDS.glob("*.json")) == [OPS.name, SALES.name]
    sales, ops = load(SALES), load(OPS)

    assert (sales["uid"], sales["title"]) == ("salespulse-sales", "Sales performance")
    assert (ops["uid"], ops["title"]) == ("salespulse-ops", "salespulse operations")
    for dashboard in (sales, ops):
        assert dashboard["schemaVersion"] >= 39
        assert dashboard["editable"] is False
        assert "id" not in dashboard or dashboard["id"] is None


@pytest.mark.parametrize("path", [SALES, OPS], ids=lambda p: p.stem)
def test_every_panel_reads_the_templated_datasource_with_at_least_one_target(path):
    dashboard = load(path)
    ids = [p["id"] for p in dashboard["panels"]]

    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            assert target["expr"].strip(), panel["title"]


@pytest.mark.parametrize("path", [SALES, OPS], ids=lambda p: p.stem)
def test_every_variable_has_a_default(path):
    variables = load(path)["templating"]["list"]

    assert variables[0]["type"] == "datasource"
    assert variables[0]["current"]["value"] == "prometheus"
    for variable in variables:
        value = variable["current"]["value"]
        assert value not in (None, "", []), variable["name"]
        if variable.get("multi"):
            assert value == ["$__all"] and variable["allValue"] == ".+", variable["name"]


def test_sales_variables_are_the_window_and_drill_down_team_and_rep():
    variables = {v["name"]: v for v in load(SALES)["templating"]["list"]}

    window = variables["window"]
    assert window["type"] == "custom"
    assert window["query"].split(",") == WINDOWS
    assert [o["value"] for o in window["options"]] == WINDOWS
    assert window["current"]["value"] == "30d"
    for name in ("team", "rep"):
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["multi"] is False
        assert re.fullmatch(
            rf'label_values\(sales_\w+\{{job=~"\$job", scope="{name}"\}}, id\)',
            variable["query"]["query"],
        )


def test_sales_company_overview_sums_additive_kpis_and_reads_exported_ratios():
    stats = {
        p["title"]: p["targets"][0]["expr"] for p in panels(load(SALES)) if p["type"] == "stat"
    }
    company = 'job=~"$job", scope="company", window="$window"'

    for title, metric in [
        ("Revenue", "sales_revenue"),
        ("Opportunities", "sales_opportunities"),
        ("Conversion", "sales_conversion_ratio"),
        ("Win rate", "sales_win_ratio"),
        ("Revenue per rep", "sales_revenue_per_rep"),
        ("Calls per opportunity", "sales_calls_per_opportunity"),
        ("Calls per rep", "sales_calls_per_rep"),
        ("Average basket", "sales_average_basket"),
        ("CAC", "sales_cac"),
    ]:
        assert stats[title] == f"sum({metric}{{{company}}})"


def test_sales_reads_every_v2_kpi_and_cross_reads_cac_and_basket_per_segment_and_channel():
    sales = load(SALES)
    used = " ".join(exprs(sales))
    by_title = {p["title"]: p for p in panels(sales)}
    cross_read = by_title["Basket / CAC by customer type and channel ($window)"]

    for kpi in V2_KPIS:
        assert f"sales_{kpi}{{" in used, kpi
    segment = 'job=~"$job", scope="segment", window="$window"'
    segments = by_title["Customer types: CAC against average basket"]["targets"]
    assert [t["expr"] for t in segments[:3]] == [
        f"sum by (id) (sales_cac{{{segment}}})",
        f"sum by (id) (sales_average_basket{{{segment}}})",
        basket_over_cac("segment"),
    ]
    assert [t["expr"] for t in cross_read["targets"]] == [
        basket_over_cac("segment"),
        basket_over_cac("channel"),
    ]
    assert cross_read["fieldConfig"]["defaults"]["thresholds"]["steps"][1] == {
        "color": "green",
        "value": 1,
    }


def test_sales_pipeline_coverage_is_the_recording_rules_weighted_pipeline_over_30d_revenue():
    by_title = {p["title"]: p for p in panels(load(SALES))}
    company = 'job=~"$job", scope="company"'
    team = 'job=~"$job", scope="team"'

    assert by_title["Pipeline coverage"]["targets"][0]["expr"] == (
        f'sum(sales_weighted_pipeline{{{company}, window="$window"}})'
        f' / (sum(sales_revenue{{{company}, window="30d"}}) > 0)'
    )
    coverage = {
        t["refId"]: t["expr"] for t in by_title["Teams: open and weighted pipeline"]["targets"]
    }
    assert coverage["E"] == (
        f'sum by (id) (sales_weighted_pipeline{{{team}, window="$window"}})'
        f' / (sum by (id) (sales_revenue{{{team}, window="30d"}}) > 0)'
    )


def test_every_metric_a_dashboard_reads_is_documented():
    documented = set(
        re.findall(r"`((?:sales|salespulse)_\w+)", (REPO / "docs/METRICS.md").read_text())
    )
    used = set()
    for path in (SALES, OPS):
        for expr in exprs(load(path)):
            used |= set(re.findall(r"\b((?:sales|salespulse)_\w+)", expr))

    undocumented = {m for m in used if re.sub(r"_(bucket|count|sum)$", "", m) not in documented}
    assert undocumented == set()
    assert used >= {
        "salespulse_events_processed_total",
        "salespulse_ingest_events_accepted_total",
        "salespulse_consumer_lag",
        "salespulse_event_time_lag_seconds",
        "salespulse_dead_letters_total",
        "salespulse_processing_latency_seconds_bucket",
        "salespulse_rebalances_total",
        "salespulse_owned_partitions",
        "salespulse_partitions",
        "salespulse_ingest_requests_total",
        "salespulse_ingest_broker_ack_seconds_bucket",
    }
    assert 'ALERTS{alertstate="firing"}' in exprs(load(OPS))


def test_the_linter_reports_each_kind_of_mistake(tmp_path):
    broken = copy.deepcopy(load(OPS))
    broken["editable"] = True
    broken["templating"]["list"][1]["refresh"] = 1
    targets = [p for p in panels(broken) if p["type"] == "timeseries"]
    targets[0]["targets"][0]["expr"] = (
        'sum(rate(salespulse_events_processed_total{job=~"$job", instance=~"$instance"}[5m]))'
    )
    targets[1]["targets"][0]["expr"] = (
        'sum(salespulse_events_processed_total{job=~"$job", instance=~"$instance"})'
    )
    targets[2]["targets"][0]["expr"] = (
        'sum(salespulse_consumer_lag{job=~"$job", instance=~"$instance"'
    )
    targets[3]["targets"][0]["expr"] = (
        'max(salespulse_event_time_lag_seconds{instance=~"$instance"})'
    )
    targets[4]["description"] = ""
    targets[5]["fieldConfig"]["defaults"]["unit"] = "furlongs"
    targets[6]["datasource"] = {"type": "prometheus", "uid": "prometheus"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))

    result = lint(path)

    assert result.returncode == 1
    reported = set(re.findall(r"^\[error\] ([\w-]+):", result.stdout, re.M))
    assert reported >= {
        "uneditable-dashboard",
        "template-on-time-change-reload-rule",
        "target-rate-interval-rule",
        "target-counter-agg-rule",
        "target-promql-rule",
        "target-job-rule",
        "panel-title-description-rule",
        "panel-units-rule",
        "panel-datasource-rule",
    }, result.stdout


def test_an_exclusion_without_reason_or_matching_nothing_fails(tmp_path):
    path = tmp_path / "ops.json"
    path.write_text(OPS.read_text())
    (tmp_path / ".lint").write_text(
        (DASHBOARDS / ".lint").read_text()
        + "  panel-units-rule:\n    entries:\n      - panel: No such panel\n"
    )

    result = lint(path)

    assert result.returncode == 1
    assert "exclusions of 'panel-units-rule' has no reason" in result.stdout
    assert "exclusions of 'template-instance-rule' entry" in result.stdout  # sales: not linted
