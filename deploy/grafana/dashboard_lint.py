"""Lint the Grafana dashboards: python deploy/grafana/dashboard_lint.py [dashboard.json ...]
(default: every deploy/grafana/dashboards/*.json; deploy/grafana/lint.sh installs promtool first
when it is missing, then runs this). Exit 0 only when no rule reports an error or a warning (the
equivalent of `dashboard-linter lint --strict`), 1 otherwise, 2 when it cannot lint at all.

Why not Grafana's dashboard-linter itself: it cannot be installed from the Go module proxy. Its
releases carry a `replace` directive in go.mod, so `go install github.com/grafana/
dashboard-linter@<version>` is refused by Go itself (upstream's README says so); building the
pinned v0.2.0 from its downloaded module needs github.com/grafana/grafana/apps/dashboard, an
AGPL-licensed module that the proxy we use does not serve; v0.1.1 is not served at all. Upstream
only supports prebuilt binaries from GitHub releases, which we cannot download here.

So this implements the same rules, under the same names and with the same per-directory
exclusions file (`.lint` beside the dashboards, see dashboard_lint_exclusions), and lets the real
Prometheus parser judge every query: each panel target and template-variable query is expanded the
way dashboard-linter expands it, read by promql-parser for the target rules and checked with
`promtool check rules`. Rules (dashboard-linter v0.2.0 names, see dashboard_lint_rules):
  template-datasource-rule, template-job-rule, template-instance-rule,
  template-label-promql-rule, template-on-time-change-reload-rule, uneditable-dashboard,
  panel-datasource-rule, panel-title-description-rule, panel-units-rule, panel-no-targets-rule,
  target-promql-rule, target-rate-interval-rule, target-job-rule, target-instance-rule,
  target-counter-agg-rule.

If a dashboard-linter binary is available anyway (DASHBOARD_LINTER=/path, or `dashboard-linter`
on PATH, e.g. a prebuilt release), it is run too, with --strict, on the same files.

Needs: promtool on PATH, and the dev extras of the project's .venv (PyYAML, promql-parser).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dashboard_lint_exclusions as exclusions
import dashboard_lint_rules as rules

DASHBOARDS = Path(__file__).resolve().parent / "dashboards"
PROGRAM = "dashboard_lint.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description="Lint the Grafana dashboards.")
    parser.add_argument("dashboards", nargs="*", help="default: every dashboards/*.json")
    dashboards = parser.parse_args(argv).dashboards or sorted(map(str, DASHBOARDS.glob("*.json")))
    if not dashboards:
        print(f"{PROGRAM}: no dashboard to lint", file=sys.stderr)
        return 2
    if shutil.which("promtool") is None:
        print(
            f"{PROGRAM}: promtool not found (deploy/prometheus/install.sh installs it)",
            file=sys.stderr,
        )
        return 2
    failed = lint_files(dashboards)
    failed |= not upstream_linter_passes(dashboards)
    if not failed:
        print(f"dashboards OK: {len(dashboards)} linted")
    return 1 if failed else 0


def lint_files(names: list[str]) -> bool:
    """Lints each file with the `.lint` of its directory; True if anything failed."""
    by_directory: dict[Path, list[Path]] = {}
    for name in names:
        path = Path(name).resolve()
        by_directory.setdefault(path.parent, []).append(path)
    failed = False
    for directory, files in by_directory.items():
        failed |= lint_directory(directory, files)
    return failed


def lint_directory(directory: Path, files: list[Path]) -> bool:
    config, problems = exclusions.load_config(directory)
    used: set = set()
    failed = False
    for path in files:
        failed |= lint_file(path, config, used)
    # An entry nobody matched is stale, once every dashboard of the directory was linted.
    if sorted(files) == sorted(directory.glob("*.json")):
        problems += exclusions.stale_entries(config, used, directory)
    for problem in problems:
        print(f"[error] lint-config: {problem}")
    return failed or bool(problems)


def lint_file(path: Path, config: dict, used: set) -> bool:
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"[error] {path}: cannot read: {error}")
        return True
    findings = rules.lint_dashboard(dashboard, path.name)
    rules.judge(findings)
    exclusions.apply_config(config, findings.results, used)
    shown = [result for result in findings.results if result.severity != "excluded"]
    for result in shown:
        print(f"[{result.severity}] {result.rule}: {result.where()} {result.message}")
    excluded = len(findings.results) - len(shown)
    print(f"{path.name}: {len(shown)} problem(s), {excluded} excluded by .lint")
    return bool(shown)


def upstream_linter_passes(dashboards: list[str]) -> bool:
    """The real dashboard-linter's verdict, when a binary is at hand; True without one."""
    linter = os.environ.get("DASHBOARD_LINTER") or shutil.which("dashboard-linter")
    if not linter:
        return True
    passed = True
    for dashboard in dashboards:
        print(f"== {linter} lint --strict {dashboard}", flush=True)
        passed &= (
            subprocess.run([linter, "lint", "--strict", dashboard], check=False).returncode == 0
        )
    return passed


if __name__ == "__main__":
    sys.exit(main())
