"""The rules of deploy/grafana/dashboard_lint.py, table by table: PromQL read from promql-parser's
AST after Grafana's variables are expanded, dashboard rules, promtool's verdict, `.lint`."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
GRAFANA = REPO / "deploy" / "grafana"
M = 'job=~"$job", instance=~"$instance"'
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

pytestmark = pytest.mark.timeout(900)  # a fresh machine installs promtool (apt) first


def grafana_module(monkeypatch, name: str):
    """deploy/ is no package: its modules import their siblings from their own directory."""
    monkeypatch.syspath_prepend(str(GRAFANA))
    return importlib.import_module(name)


@pytest.fixture
def promql(monkeypatch):
    return grafana_module(monkeypatch, "dashboard_lint_promql")


@pytest.fixture
def rules(monkeypatch):
    return grafana_module(monkeypatch, "dashboard_lint_rules")


@pytest.fixture
def exclusions(monkeypatch):
    return grafana_module(monkeypatch, "dashboard_lint_exclusions")


def rules_broken_by(promql, expr: str, variables: dict | None = None) -> set[str]:
    found = promql.selectors(promql.expand(expr, variables or {}))
    return {rule for rule, _ in promql.target_problems(expr, found)}


@pytest.mark.parametrize(
    ("expr", "reported"),
    [
        (f"sum(x_total{{{M}}})", True),
        (f"sum(rate(x_total{{{M}}}[$__rate_interval]))", False),
        (f"irate(x_total{{{M}}}[$__rate_interval])", False),
        (f"sum(increase(x_total{{{M}}}[$__range]))", False),
        (f"rate(x_total{{{M}}}[5m:1m])", True),
        (f"max_over_time(x_total{{{M}}}[$__rate_interval])", True),
        (f"sum(rate(a_total{{{M}}}[$__rate_interval])) / sum(b_total{{{M}}})", True),
        (f"sum(x_seconds{{{M}}})", False),
    ],
)
def test_a_counter_without_rate_irate_or_increase_is_reported(promql, expr, reported):
    assert ("target-counter-agg-rule" in rules_broken_by(promql, expr)) is reported


@pytest.mark.parametrize(
    ("expr", "reported"),
    [
        (f"rate(x_total{{{M}}}[5m])", True),
        (f"irate(x_total{{{M}}}[1m])", True),
        (f"rate(x_total{{{M}}}[$__interval])", True),
        (f"rate(x_total{{{M}}}[$__rate_interval])", False),
        (f"rate(x_total{{{M}}}[${{__rate_interval}}])", False),
        (f"rate(x_total{{{M}}}[[[__rate_interval]]])", False),
        (f"increase(x_total{{{M}}}[1h])", False),
        (f"deriv(x{{{M}}}[5m])", False),
        (f"max_over_time(rate(x_total{{{M}}}[$__rate_interval])[1h:5m])", False),
    ],
)
def test_a_rate_over_another_range_than_the_rate_interval_is_reported(promql, expr, reported):
    assert ("target-rate-interval-rule" in rules_broken_by(promql, expr)) is reported


@pytest.mark.parametrize(
    ("expr", "missing"),
    [
        (f"up{{{M}}}", set()),
        ('up{instance=~"$instance"}', {"job"}),
        ('up{job=~"$job"}', {"instance"}),
        ('up{job="$job", instance=~"$instance"}', {"job"}),
        ('up{job=~"prod", instance=~"$instance"}', {"job"}),
        ("up", {"job", "instance"}),
        (f"up{{{M}}} and on (job, instance) sum by (job, instance) (down{{{M}}})", set()),
        (f'label_replace(up{{{M}}}, "job", "$1", "instance", "(.*)")', set()),
        (f"histogram_quantile(0.9, sum by (le) (rate(x_bucket{{{M}}}[$__rate_interval])))", set()),
        ("vector(1) * time()", set()),
    ],
)
def test_a_selector_without_the_job_and_instance_variables_is_reported(promql, expr, missing):
    expected = {f"target-{label}-rule" for label in missing}

    assert rules_broken_by(promql, expr) == expected


def test_the_messages_quote_the_query_as_written_and_name_the_selector(promql):
    expr = 'rate(x_total{job=~"$job"}[5m]) + {__name__="y", instance=~"$instance"}'

    messages = promql.target_problems(expr, promql.selectors(promql.expand(expr, {})))

    assert messages == [
        ("target-rate-interval-rule", f"invalid PromQL query '{expr}': should use "
         "$__rate_interval"),
        ("target-instance-rule", f"invalid PromQL query '{expr}': selector 'x_total' has no "
         'instance=~"$instance" matcher'),
        ("target-job-rule", f"invalid PromQL query '{expr}': selector '{{...}}' has no "
         'job=~"$job" matcher'),
    ]  # fmt: skip


@pytest.mark.parametrize("query", ['sum(x{a="b"', "sum(x", "nope(x)", "rate(x[8869990787ms])"])
def test_a_query_promql_parser_cannot_read_raises_value_error(promql, query):
    with pytest.raises(ValueError):
        promql.selectors(query)


VARIABLES = {
    "window": {"name": "window", "current": {"value": "30d"}},
    "job": {"name": "job", "current": {"value": ["$__all"]}, "allValue": ".+"},
    "team": {"name": "team", "current": {"value": "$__all"}},
    "rep": {"name": "rep", "current": {}, "options": [{"value": "ann"}]},
    "unset": {"name": "unset"},
    "nested": {"name": "nested", "current": {"value": "$window"}},
}


@pytest.mark.parametrize(
    ("expr", "expanded"),
    [
        ("x[$__rate_interval]", "x[886999078ms]"),
        ("x[${__rate_interval}]", "x[886999078ms]"),
        ("x[[[__range]]]", "x[606977074ms]"),
        ("x[${__range_s:raw}s]", "x[939779548s]"),
        ('x{job=~"$job"}', 'x{job=~"$job"}'),
        ("x{job=~'$job'}", "x{job=~'.+'}"),
        ("x offset $window", "x offset 30d"),
        ("$team $rep $unset $nested $unknown", ".* ann unset 30d unknown"),
    ],
)
def test_variables_expand_like_dashboard_linter_outside_double_quotes(promql, expr, expanded):
    assert promql.expand(expr, VARIABLES) == expanded


def template(name: str, query: str) -> dict:
    return {
        "name": name,
        "label": name.title(),
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "$datasource"},
        "query": {"query": query},
        "refresh": 2,
        "multi": True,
        "allValue": ".+",
        "current": {"value": ["$__all"]},
    }


def valid_dashboard() -> dict:
    """The smallest dashboard every rule accepts."""
    return {
        "title": "Test",
        "editable": False,
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                },
                template("job", "label_values(up, job)"),
                template("instance", 'label_values(up{job=~"$job"}, instance)'),
            ]
        },
        "panels": [
            {"type": "row", "title": "Row", "panels": []},
            {
                "type": "timeseries",
                "title": "Events",
                "description": "Why it matters.",
                "datasource": DATASOURCE,
                "fieldConfig": {"defaults": {"unit": "ops"}},
                "targets": [{"expr": f"sum(rate(x_total{{{M}}}[$__rate_interval]))"}],
            },
        ],
    }


def make(where: str, changes: dict | None) -> dict:
    """The valid dashboard with ``changes`` merged into its `dashboard`, `panel`, `target`, a
    `$variable` (None: removed), or a new panel in its collapsed `row`."""
    dashboard = valid_dashboard()
    panel = dashboard["panels"][1]
    variables = {f"${v['name']}": v for v in dashboard["templating"]["list"]}
    places = {"dashboard": dashboard, "panel": panel, "target": panel["targets"][0]}
    if where == "row":
        dashboard["panels"][0]["panels"].append(panel | changes)
    elif changes is None:
        dashboard["templating"]["list"].remove(variables[where])
    else:
        (variables | places)[where].update(changes)
    return dashboard


def findings_of(rules, dashboard: dict, judged: bool = False):
    findings = rules.lint_dashboard(dashboard, "test.json")
    if judged:
        rules.judge(findings)
    return findings


def reported(findings) -> set[str]:
    """Rule names without their `-rule`, a warning's with its severity."""
    return {
        r.rule.removesuffix("-rule") + ("" if r.severity == "error" else f":{r.severity}")
        for r in findings.results
    }


def test_the_smallest_valid_dashboard_has_no_finding_and_three_queries(rules, promtool):
    findings = findings_of(rules, valid_dashboard(), judged=True)

    assert findings.results == []
    assert [q.expanded for q in findings.queries] == [
        "up",
        'up{job=~"$job"}',
        f"sum(rate(x_total{{{M}}}[886999078ms]))",
    ]


DS = {"template-datasource", "panel-datasource"}
FIELD_STAT = {"type": "stat", "fieldConfig": {}, "options": {"reduceOptions": {"fields": "/x/"}}}
MISTAKES = {
    "an editable dashboard": ("dashboard", {"editable": True}, {"uneditable-dashboard"}),
    "no data source variable": ("$datasource", None, DS),
    "a misnamed data source": ("$datasource", {"name": "p"}, DS),
    "a mislabeled data source": ("$datasource", {"label": "P"}, {"template-datasource:warning"}),
    "no Prometheus, no PromQL rule": ("$datasource", {"query": "loki"}, set()),
    "no job variable": ("$job", None, {"template-job"}),
    "a single instance": ("$instance", {"multi": False}, {"template-instance"}),
    "all jobs as .*": ("$job", {"allValue": ".*"}, {"template-job"}),
    "a lowercase job label": ("$job", {"label": "job"}, {"template-job:warning"}),
    "a custom job variable": ("$job", {"type": "custom"}, {"template-job"}),
    "jobs from a fixed source": ("$job", {"datasource": "prometheus"}, {"template-job"}),
    "no refresh on time change": ("$job", {"refresh": 1}, {"template-on-time-change-reload"}),
    "an unknown variable function": ("$job", {"query": "labels(up)"}, {"template-label-promql"}),
    "an invalid label name": ("$job", {"query": "label_values(up, 9)"}, {"template-label-promql"}),
    "a panel without description": ("panel", {"description": ""}, {"panel-title-description"}),
    "a panel on a fixed source": ("panel", {"datasource": "prometheus"}, {"panel-datasource"}),
    "a panel without targets": ("panel", {"targets": []}, {"panel-no-targets"}),
    "a number without unit": ("panel", {"fieldConfig": {}}, {"panel-units"}),
    "an unknown unit": ("panel", {"fieldConfig": {"defaults": {"unit": "ft"}}}, {"panel-units"}),
    "value mappings, no unit": ("panel", {"fieldConfig": {"defaults": {"mappings": [{}]}}}, set()),
    "a stat of a field, no unit": ("panel", FIELD_STAT, set()),
    "a Loki target": ("target", {"datasource": {"type": "loki"}}, {"target-promql"}),
    "an empty query": ("target", {"expr": " "}, {"target-promql"}),
    "a counter without rate": ("target", {"expr": f"sum(x_total{{{M}}})"}, {"target-counter-agg"}),
    "a rate over 5m": ("target", {"expr": f"rate(x{{{M}}}[5m])"}, {"target-rate-interval"}),
    "no job matcher": ("target", {"expr": 'up{instance=~"$instance"}'}, {"target-job"}),
    "a panel in a collapsed row": ("row", {"description": ""}, {"panel-title-description"}),
}  # fmt: skip


@pytest.mark.parametrize(("where", "changes", "expected"), MISTAKES.values(), ids=MISTAKES)
def test_each_mistake_is_reported_under_its_dashboard_linter_rule(rules, where, changes, expected):
    assert reported(findings_of(rules, make(where, changes))) == expected


JUDGED = {
    "an unclosed brace": (
        ("target", {"expr": f"sum(x{{{M}}}"}),
        ("target-promql-rule", "invalid PromQL query 'sum(x{"),
    ),
    "an unknown function": (
        ("target", {"expr": f"nope(x{{{M}}})"}),
        ("target-promql-rule", 'unknown function with name "nope"'),
    ),
    "a broken variable query": (
        ("$job", {"query": "query_result(sum(up)"}),
        ("template-label-promql-rule", "invalid PromQL query 'sum(up': could not parse expression"),
    ),
    "a query only promql-parser refuses": (
        ("target", {"expr": f"rate(x_total{{{M}}}[8869990787ms])"}),
        ("target-promql-rule", "cannot read 'rate(x_total{"),
    ),
}


@pytest.mark.parametrize(("mistake", "verdict"), JUDGED.values(), ids=JUDGED)
def test_promtool_judges_each_query_and_an_unreadable_one_is_reported_once(
    rules, promtool, mistake, verdict
):
    results = findings_of(rules, make(*mistake), judged=True).results

    assert [r.rule for r in results] == [verdict[0]]
    assert verdict[1] in results[0].message


@pytest.mark.parametrize(
    ("entry", "panel_title", "target", "matched"),
    [
        ({}, "Events", 0, True),
        ({"dashboard": "Test"}, "Events", 0, True),
        ({"dashboard": "Other"}, "Events", 0, False),
        ({"dashboard": "Test", "panel": "Events"}, "Events", 0, True),
        ({"dashboard": "Test", "panel": "Other"}, "Events", 0, False),
        ({"dashboard": "Test", "panel": "Other"}, None, None, True),
        ({"panel": "Events", "targetIdx": 1}, "Events", 0, False),
        ({"panel": "Events", "targetIdx": "0"}, "Events", 0, True),
        ({"panel": "Events", "targetIdx": 1}, "Events", None, True),
    ],
)
def test_an_exclusion_entry_matches_the_results_it_names(
    exclusions, rules, entry, panel_title, target, matched
):
    result = rules.Result("panel-units-rule", "error", "Test", panel_title, target, "")

    assert exclusions.matches(entry, result) is matched


@pytest.mark.parametrize(
    ("spec", "reasoned"),
    [
        ({"reason": "why"}, True),
        ({"reason": "why", "entries": [{"panel": "A"}]}, True),
        ({"entries": [{"panel": "A", "reason": "a"}, {"panel": "B", "reason": "b"}]}, True),
        ({"entries": [{"panel": "A", "reason": "a"}, {"panel": "B"}]}, False),
        ({}, False),
    ],
)
def test_an_exclusion_needs_a_reason_for_the_whole_rule_or_for_every_entry(
    exclusions, spec, reasoned
):
    assert exclusions.has_reason(spec) is reasoned


@pytest.fixture
def lint(monkeypatch, promtool):
    monkeypatch.delenv("DASHBOARD_LINTER", raising=False)
    return grafana_module(monkeypatch, "dashboard_lint")


def write(directory, dashboard: dict, lint_config: str | None = None):
    path = directory / "test.json"
    path.write_text(json.dumps(dashboard))
    if lint_config is not None:
        (directory / ".lint").write_text(lint_config)
    return path


@pytest.mark.parametrize(
    ("lint_config", "code", "printed"),
    [
        (None, 0, "dashboards OK: 1 linted"),
        ("warnings:\n  target-job-rule:\n    reason: r\n", 1, "whole rule) matches no problem"),
        ("exclusions:\n  panel-units-rule:\n", 1, "exclusions of 'panel-units-rule' has no reason"),
    ],
)
def test_the_lint_config_of_the_directory_is_checked_too(
    lint, tmp_path, capsys, lint_config, code, printed
):
    path = write(tmp_path, valid_dashboard(), lint_config)

    assert lint.main([str(path)]) == code
    assert printed in capsys.readouterr().out


@pytest.mark.parametrize(
    ("section", "code", "printed"),
    [
        ("warnings", 1, "[warning] target-rate-interval-rule: Dashboard 'Test', panel 'Events'"),
        ("exclusions", 0, "test.json: 0 problem(s), 1 excluded by .lint"),
    ],
)
def test_the_lint_config_excludes_a_result_or_makes_it_a_warning_that_still_fails(
    lint, tmp_path, capsys, section, code, printed
):
    dashboard = make("target", {"expr": f"sum(rate(x_total{{{M}}}[5m]))"})
    path = write(tmp_path, dashboard, f"{section}:\n  target-rate-interval-rule:\n    reason: r\n")

    assert lint.main([str(path)]) == code
    assert printed in capsys.readouterr().out


def test_an_unreadable_dashboard_fails(lint, tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{")

    assert lint.main([str(path)]) == 1
    assert f"[error] {path}: cannot read" in capsys.readouterr().out


def test_the_linter_exits_2_when_there_is_no_dashboard_to_lint(lint, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lint, "DASHBOARDS", tmp_path)

    assert lint.main([]) == 2
    assert "no dashboard to lint" in capsys.readouterr().err


def test_the_linter_exits_2_without_promtool(lint, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))

    assert lint.main([str(write(tmp_path, valid_dashboard()))]) == 2
    assert "promtool not found" in capsys.readouterr().err


@pytest.mark.parametrize("verdict", [0, 1])
def test_a_dashboard_linter_binary_at_hand_judges_the_same_files(
    lint, monkeypatch, tmp_path, capsys, verdict
):
    linter = tmp_path / "dashboard-linter"
    linter.write_text(f"#!/bin/sh\nexit {verdict}\n")
    linter.chmod(0o755)
    monkeypatch.setenv("DASHBOARD_LINTER", str(linter))
    path = write(tmp_path, valid_dashboard())

    assert lint.main([str(path)]) == verdict
    out = capsys.readouterr().out
    assert f"== {linter} lint --strict {path}" in out
    assert ("dashboards OK: 1 linted" in out) is (verdict == 0)
