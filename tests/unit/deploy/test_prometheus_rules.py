"""The Prometheus rules (deploy/prometheus/rules) are valid and their promtool unit tests pass.

promtool is taken from PATH; when it is missing, ``deploy/prometheus/install.sh`` installs it (apt)
once per session. The rule files are also checked for what promtool cannot see: every alert links
to an existing runbook section and has a promtool case where it fires and one where it does not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PROMETHEUS = REPO / "deploy" / "prometheus"
INSTALL = PROMETHEUS / "install.sh"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOK = REPO / "docs" / "RUNBOOK.md"
RUNBOOK_URL = "https://github.com/salespulse/salespulse/blob/main/docs/RUNBOOK.md#"
CONVERSION_ALERTS = {"SalesTeamConversionDrop", "SalesCompanyConversionDrop"}
COVERAGE_FLOOR = "salespulse:pipeline_coverage:floor"

# A fresh machine installs Prometheus from apt in the first test's setup.
pytestmark = pytest.mark.timeout(900)


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def groups_of(path: Path) -> list[dict]:
    return load(path)["groups"]


def alert_rules() -> list[dict]:
    return [
        rule
        for path in RULE_FILES
        for group in groups_of(path)
        for rule in group["rules"]
        if "alert" in rule
    ]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown page (code blocks skipped)."""
    anchors, in_code = set(), False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"#{1,6}\s+(.*)", line)):
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_the_rules_and_their_promtool_tests_are_where_the_checks_look_for_them():
    names = {path.name for path in RULE_FILES}

    assert {"recording.yml", "alerts.yml"} <= names
    assert len(TEST_FILES) >= 2, f"no promtool test files in {PROMETHEUS / 'tests'}"


@pytest.mark.parametrize("rules_file", RULE_FILES, ids=[path.name for path in RULE_FILES])
def test_promtool_accepts_every_rules_file(promtool, rules_file):
    result = run_promtool(promtool, "check", "rules", str(rules_file))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", TEST_FILES, ids=[path.name for path in TEST_FILES])
def test_every_promtool_unit_test_file_passes(promtool, test_file):
    result = run_promtool(promtool, "test", "rules", str(test_file))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", TEST_FILES, ids=[path.name for path in TEST_FILES])
def test_every_test_file_loads_all_rules_and_evaluates_recording_groups_before_alerts(test_file):
    spec = load(test_file)
    loaded = {(test_file.parent / name).resolve() for name in spec["rule_files"]}
    groups = [group["name"] for path in RULE_FILES for group in groups_of(path)]
    order = spec.get("group_eval_order", [])
    recording = [
        group["name"]
        for path in RULE_FILES
        for group in groups_of(path)
        if all("record" in rule for rule in group["rules"])
    ]

    assert loaded == {path.resolve() for path in RULE_FILES}
    assert sorted(order) == sorted(groups), "group_eval_order must list every rule group"
    assert set(order[: len(recording)]) == set(recording), "recording groups must come first"


def test_recording_rules_are_named_level_metric_operation():
    records = [
        rule["record"]
        for path in RULE_FILES
        for group in groups_of(path)
        for rule in group["rules"]
        if "record" in rule
    ]

    assert records, "no recording rule found"
    convention = re.compile(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+")
    misnamed = [name for name in records if not convention.fullmatch(name)]
    assert misnamed == []


def test_every_alert_has_for_severity_summary_description_and_a_runbook_section():
    anchors = github_anchors(RUNBOOK.read_text())
    problems = []
    for rule in alert_rules():
        name, annotations = rule["alert"], rule.get("annotations", {})
        if "for" not in rule:
            problems.append(f"{name}: no for")
        if rule.get("labels", {}).get("severity") not in {"critical", "warning"}:
            problems.append(f"{name}: severity is not critical or warning")
        if not annotations.get("summary") or "{{" not in annotations.get("description", ""):
            problems.append(f"{name}: summary missing or description without templated values")
        if annotations.get("runbook_url") != RUNBOOK_URL + name.lower():
            problems.append(f"{name}: runbook_url is {annotations.get('runbook_url')!r}")
        if name.lower() not in anchors:
            problems.append(f"{name}: docs/RUNBOOK.md has no section #{name.lower()}")

    assert alert_rules(), "no alerting rule found"
    assert problems == []


def test_conversion_alerts_keep_firing_for_a_while_after_recovering():
    keep = {rule["alert"]: rule.get("keep_firing_for") for rule in alert_rules()}

    assert {name: keep.get(name) for name in CONVERSION_ALERTS} == dict.fromkeys(
        CONVERSION_ALERTS, "30m"
    )


def test_pipeline_coverage_reads_the_stock_and_the_revenue_from_the_30d_window_only():
    records = {
        rule["record"]: " ".join(rule["expr"].split())
        for path in RULE_FILES
        for group in groups_of(path)
        for rule in group["rules"]
        if "record" in rule
    }

    for level in ("team", "company"):
        assert 'window="30d"' in records[f"{level}:sales_weighted_pipeline:sum"]
        assert (
            'sales_revenue:sum{window="30d"} > 0)'
            in records[f"{level}:sales_pipeline_coverage:ratio"]
        )


def test_the_coverage_alert_reads_its_floor_from_one_recording_rule_documented_in_the_runbook():
    floors = [
        rule["expr"].strip()
        for path in RULE_FILES
        for group in groups_of(path)
        for rule in group["rules"]
        if rule.get("record") == COVERAGE_FLOOR
    ]
    (alert,) = [rule for rule in alert_rules() if rule["alert"] == "SalesPipelineCoverageLow"]
    runbook = RUNBOOK.read_text()
    section = runbook.split("## SalesPipelineCoverageLow", 1)[1].split("\n## ", 1)[0]

    assert len(floors) == 1 and (match := re.fullmatch(r"vector\(([\d.]+)\)", floors[0]))
    default = match.group(1)
    assert COVERAGE_FLOOR in alert["expr"]
    assert not re.search(r"[<>]=?\s*[\d.]", alert["expr"]), "a literal threshold in the alert"
    assert f"(default {default})" in runbook.split("\n## ", 1)[0]  # the alert table
    assert f"`vector({default})`" in section


def test_every_alert_has_a_promtool_case_where_it_fires_and_one_where_it_stays_quiet():
    firing, quiet = set(), set()
    for test_file in TEST_FILES:
        for group in load(test_file)["tests"]:
            for case in group.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}

    assert names - firing == set(), "alerts never expected to fire"
    assert names - quiet == set(), "alerts never expected to stay quiet"


def test_install_script_only_prints_the_versions_when_both_tools_are_installed(promtool):
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus is not on PATH (promtool came from elsewhere)")

    result = subprocess.run(
        [str(INSTALL)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "already installed" in result.stdout
    assert "apt-get" not in result.stdout + result.stderr
    assert re.search(r"promtool, version \d+\.\d+", result.stdout), result.stdout
    assert re.search(r"prometheus, version \d+\.\d+", result.stdout), result.stdout
