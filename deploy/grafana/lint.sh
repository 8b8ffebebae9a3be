#!/usr/bin/env bash
# Lint the Grafana dashboards: deploy/grafana/lint.sh [dashboard.json ...]
# (default: every deploy/grafana/dashboards/*.json). Exit 0 only when no rule reports an error or a
# warning (the equivalent of `dashboard-linter lint --strict`).
#
# Why not Grafana's dashboard-linter itself: it cannot be installed from the Go module proxy. Its
# releases carry a `replace` directive in go.mod, so `go install github.com/grafana/
# dashboard-linter@<version>` is refused by Go itself (upstream's README says so); building the
# pinned v0.2.0 from its downloaded module needs github.com/grafana/grafana/apps/dashboard, an
# AGPL-licensed module that the proxy we use does not serve; v0.1.1 is not served at all. Upstream
# only supports prebuilt binaries from GitHub releases, which we cannot download here.
#
# So this script implements the same rules, under the same names and with the same per-directory
# exclusions file (`.lint` beside the dashboards, format of dashboard-linter v0.2.0), and lets the
# real Prometheus parser judge every query: each panel target and template-variable query is
# expanded the way dashboard-linter expands it and checked with `promtool check rules`.
# Rules (dashboard-linter v0.2.0 names):
#   template-datasource-rule, template-job-rule, template-instance-rule,
#   template-label-promql-rule, template-on-time-change-reload-rule, uneditable-dashboard,
#   panel-datasource-rule, panel-title-description-rule, panel-units-rule, panel-no-targets-rule,
#   target-promql-rule, target-rate-interval-rule, target-job-rule, target-instance-rule,
#   target-counter-agg-rule.
# The LogQL rules do not apply (no Loki data source); a target of any other data source type is an
# error. Stricter than upstream where upstream only looks at some panel types: panel rules apply to
# every panel but rows. Also an error here: an exclusion without a reason, and an exclusion entry
# that no longer matches anything (so `.lint` cannot silently outlive the problem it excused).
#
# If a dashboard-linter binary is available anyway (DASHBOARD_LINTER=/path, or `dashboard-linter`
# on PATH, e.g. a prebuilt release), it is run too, with --strict, on the same files.
#
# Needs: promtool (installed with Prometheus by deploy/prometheus/install.sh when missing), Python 3
# with PyYAML (the project's .venv has it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [[ $# -gt 0 ]]; then
  dashboards=("$@")
else
  shopt -s nullglob
  dashboards=("$here"/dashboards/*.json)
  shopt -u nullglob
fi
if [[ ${#dashboards[@]} -eq 0 ]]; then
  echo "lint.sh: no dashboard to lint" >&2
  exit 2
fi

if ! command -v promtool >/dev/null 2>&1; then
  if [[ -x "$repo/deploy/prometheus/install.sh" ]]; then
    "$repo/deploy/prometheus/install.sh" >&2
  fi
  command -v promtool >/dev/null 2>&1 || {
    echo "lint.sh: promtool not found (deploy/prometheus/install.sh installs it)" >&2
    exit 2
  }
fi

python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python="$(command -v python3)"

status=0
"$python" - "${dashboards[@]}" <<'PYTHON' || status=$?
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit("lint.sh: PyYAML is needed to read .lint files (pip install pyyaml)")

# Sample values of Grafana's global variables, as dashboard-linter substitutes them.
GLOBALS = {
    "__rate_interval": "8869990787ms",
    "__interval": "4867856611ms",
    "__interval_ms": "7781188786",
    "__range_ms": "6737667980",
    "__range_s": "9397795485",
    "__range": "6069770749ms",
    "__auto": "12345ms",
}
VARIABLE = re.compile(r"\$(\w+)|\$\{([^}]+)\}|\[\[([^\[\]]+)\]\]")
RATE_INTERVAL = {"$__rate_interval", "${__rate_interval}"}
QUERY_PANELS = {"stat", "singlestat", "gauge", "graph", "table", "timeseries", "state-timeline",
                "barchart", "bargauge", "piechart", "heatmap", "histogram", "status-history"}
UNIT_PANELS = {"stat", "singlestat", "graph", "table", "timeseries", "gauge"}
# Grafana's unit ids (packages/grafana-data/src/valueFormats/categories.ts), the categories a
# salespulse dashboard can use; a unit outside this list is reported, extend it if Grafana has it.
UNITS = set(
    """none string short percent percentunit humidity dB hex0x hex sci locale
    currencyUSD currencyGBP currencyEUR currencyJPY currencyCHF currencySEK currencyNOK currencyDKK
    currencyPLN currencyCZK currencyINR currencyBRL currencyZAR
    bytes decbytes bits decbits kbytes deckbytes mbytes decmbytes gbytes decgbytes
    pps binBps Bps binbps bps
    dateTimeAsIso dateTimeAsIsoNoDateIfToday dateTimeAsUS dateTimeAsLocal dateTimeFromNow
    hertz ns µs ms s m h d dtdurationms dtdurations dthms dtdhms timeticks clockms clocks
    cps ops reqps rps wps iops cpm opm rpm wpm mps mpm""".split()
)
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
NOT_SELECTORS = {"and", "or", "unless", "bool", "atan2", "offset", "inf", "nan"}
TOKEN = re.compile(
    r"""(?P<ws>\s+|\#[^\n]*)
    |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    |(?P<var>\$\{[^}]+\}|\$\w+)
    |(?P<num>0[xX][0-9a-fA-F]+|(?:\d+(?:ms|[smhdwy]))+|\d*\.?\d+(?:[eE][+-]?\d+)?)
    |(?P<ident>[A-Za-z_][\w:]*)
    |(?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>@,(){}\[\]:])""",
    re.X,
)


@dataclass
class Result:
    rule: str
    severity: str  # error | warning | excluded
    dashboard: str
    panel: str | None
    target: int | None
    message: str

    def where(self) -> str:
        text = f"Dashboard '{self.dashboard}'"
        if self.panel is not None:
            text += f", panel '{self.panel}'"
        if self.target is not None:
            text += f", target idx '{self.target}'"
        return text


# --- PromQL structure (validity itself is promtool's job) ------------------------------------
@dataclass
class Selector:
    name: str | None
    matchers: list  # (label, op, value)
    range: str | None  # matrix selector range, as written
    parent: str | None  # innermost enclosing function or aggregation


def tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        match = TOKEN.match(expr, pos)
        if not match:
            raise ValueError(f"unexpected character {expr[pos]!r} at {pos}")
        pos = match.end()
        if match.lastgroup != "ws":
            out.append((match.lastgroup, match.group()))
    return out


def closing(toks, i, open_="(", close=")") -> int:
    """Index after the bracket that closes the one at ``i``."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j] == ("op", open_):
            depth += 1
        elif toks[j] == ("op", close):
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unclosed {open_!r}")


def unquote(text: str) -> str:
    return text[1:-1] if text[:1] in "\"'`" else text


def selectors(expr: str) -> list[Selector]:
    toks, found, stack, i = tokens(expr), [], [], 0

    def at(j):
        return toks[j] if j < len(toks) else (None, None)

    while i < len(toks):
        kind, text = toks[i]
        if kind == "ident" and text.lower() in LABEL_LISTS and at(i + 1) == ("op", "("):
            i = closing(toks, i + 1)
        elif kind == "ident" and text in AGGREGATIONS and at(i + 1)[0] in ("op", "ident"):
            i += 1
            if at(i)[0] == "ident" and at(i)[1] in ("by", "without"):
                i = closing(toks, i + 1)
            if at(i) == ("op", "("):
                stack.append(text)
                i += 1
        elif kind == "ident" and at(i + 1) == ("op", "("):
            stack.append(text)
            i += 2
        elif kind == "ident" and text.lower() in NOT_SELECTORS | LABEL_LISTS:
            i += 1
        elif kind == "ident" or (kind, text) == ("op", "{"):
            selector = Selector(text if kind == "ident" else None, [], None, None)
            if kind == "ident":
                i += 1
            if at(i) == ("op", "{"):
                end = closing(toks, i, "{", "}")
                inner = [t for t in toks[i + 1 : end - 1] if t != ("op", ",")]
                for k in range(0, len(inner) - 2, 3):
                    label, op, value = inner[k : k + 3]
                    selector.matchers.append((unquote(label[1]), op[1], unquote(value[1])))
                i = end
            if at(i) == ("op", "["):
                end = closing(toks, i, "[", "]")
                inside = toks[i + 1 : end - 1]
                if ("op", ":") not in inside:
                    selector.range = "".join(t[1] for t in inside)
                i = end
            selector.parent = stack[-1] if stack else None  # None: a plain parenthesis
            found.append(selector)
        elif (kind, text) == ("op", "("):
            stack.append(None)
            i += 1
        elif (kind, text) == ("op", ")"):
            if stack:
                stack.pop()
            i += 1
        elif (kind, text) == ("op", "["):
            i = closing(toks, i, "[", "]")
        else:
            i += 1
    return found


# --- variables -------------------------------------------------------------------------------
def current_value(variable: dict) -> str:
    current = (variable.get("current") or {}).get("value")
    if isinstance(current, list):
        current = current[0] if current else None
    if current == "$__all":
        return variable.get("allValue") or ".*"
    if current:
        return current
    options = variable.get("options") or []
    return options[0]["value"] if options else variable["name"]


def expand(expr: str, variables: dict[str, dict]) -> str:
    """dashboard-linter's expansion: outside double-quoted strings only."""

    def sample(match: re.Match) -> str:
        name = next(g for g in match.groups() if g is not None).split(":")[0]
        if name in GLOBALS:
            return GLOBALS[name]
        if name in variables:
            return expand(current_value(variables[name]), {
                k: v for k, v in variables.items() if k != name
            })
        return name

    parts = expr.split('"')
    for index in range(0, len(parts), 2):
        parts[index] = VARIABLE.sub(sample, parts[index])
    return '"'.join(parts)


def variable_query(variable: dict) -> str:
    query = variable.get("query")
    return query.get("query", "") if isinstance(query, dict) else (query or "")


def datasource_uid(source) -> str | None:
    return source.get("uid") if isinstance(source, dict) else source


# --- rules -----------------------------------------------------------------------------------
def panels_of(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])
    for row in dashboard.get("rows", []):
        yield from row.get("panels", [])


def lint_dashboard(path: Path, dashboard: dict) -> list[Result]:
    title = dashboard.get("title", path.name)
    results: list[Result] = []

    def report(rule, message, panel=None, target=None, severity="error"):
        results.append(Result(rule, severity, title, panel, target, message))

    templating = dashboard.get("templating", {}).get("list", [])
    variables = {v["name"]: v for v in templating}
    ds_vars = [v for v in templating if v.get("type", "").lower() == "datasource"]
    ds_names = {f"${v['name']}" for v in ds_vars} | {f"${{{v['name']}}}" for v in ds_vars}
    prometheus = bool(ds_vars) and ds_vars[0].get("query") == "prometheus"

    if not ds_vars:
        report("template-datasource-rule", "does not have a templated data source")
    for var in ds_vars:
        query = var.get("query", "")
        names = {f"{query.lower()}_datasource"} | ({"datasource"} if len(ds_vars) == 1 else set())
        labels = {f"{query.title()} data source"} | ({"Data source"} if len(ds_vars) == 1 else set())
        if var["name"] not in names:
            report("template-datasource-rule",
                   f"templated data source variable named '{var['name']}', should be one of {sorted(names)}")
        if var.get("label") not in labels:
            report("template-datasource-rule",
                   f"templated data source variable labeled '{var.get('label')}', should be one of "
                   f"{sorted(labels)}", severity="warning")

    if prometheus:
        for name in ("job", "instance"):
            rule = f"template-{name}-rule"
            var = variables.get(name)
            if var is None:
                report(rule, f"is missing the {name} template")
                continue
            if datasource_uid(var.get("datasource")) not in {"$datasource", "${datasource}"}:
                report(rule, f"{name} template should use datasource '$datasource'")
            if var.get("type") != "query":
                report(rule, f"{name} template should be a Prometheus query, is '{var.get('type')}'")
            if var.get("label") != name.title():
                report(rule, f"{name} template should be labeled '{name.title()}'", severity="warning")
            if not var.get("multi"):
                report(rule, f"{name} template should be a multi select")
            if var.get("allValue") != ".+":
                report(rule, f"{name} template allValue should be '.+', is '{var.get('allValue')}'")

    promql: list[tuple[str, str | None, int | None, str]] = []  # (rule, panel, target, expr)
    for var in templating:
        if var.get("type") != "query":
            continue
        if var.get("refresh") != 2:
            report("template-on-time-change-reload-rule",
                   f"template variable '{var['name']}' should refresh 'On time range change' (2), "
                   f"is {var.get('refresh')}")
        if not prometheus:
            continue
        query = variable_query(var).strip()
        match = re.fullmatch(r"(\w+)\((.*)\)", query, re.S)
        function, argument = (match.group(1), match.group(2).strip()) if match else (None, "")
        if function not in {"label_names", "label_values", "metrics", "query_result"}:
            report("template-label-promql-rule", f"template '{var['name']}' invalid query '{query}'")
            continue
        if function == "label_values":
            expr, _, label = argument.rpartition(",")
            label = label.strip()
            if not re.fullmatch(r"[A-Za-z_]\w*", label):
                report("template-label-promql-rule",
                       f"template '{var['name']}' invalid label name '{label}'")
            if expr.strip():
                promql.append(("template-label-promql-rule", f"variable {var['name']}", None,
                               expr.strip()))
        elif function == "query_result":
            promql.append(("template-label-promql-rule", f"variable {var['name']}", None, argument))

    if dashboard.get("editable", True):
        report("uneditable-dashboard", "is editable, it should be set to 'editable: false'")

    for panel in panels_of(dashboard):
        kind, name = panel.get("type"), panel.get("title", "")
        if kind == "row":
            continue
        if not name or not panel.get("description"):
            report("panel-title-description-rule", "has missing title or description", name)
        if datasource_uid(panel.get("datasource")) not in ds_names:
            report("panel-datasource-rule", "does not use a templated datasource, uses "
                   f"'{datasource_uid(panel.get('datasource'))}'", name)
        targets = panel.get("targets") or []
        if not targets:
            report("panel-no-targets-rule", "has no targets", name)
        if kind in UNIT_PANELS:
            field_config = panel.get("fieldConfig") or {}
            defaults = field_config.get("defaults") or {}
            overrides = [
                p for o in field_config.get("overrides") or [] for p in o.get("properties", [])
            ]
            non_numeric = (
                kind == "stat" and (panel.get("options") or {}).get("reduceOptions", {}).get("fields")
            )
            mapped = defaults.get("mappings") or any(p["id"] == "mappings" for p in overrides)
            units = [defaults.get("unit")] + [p.get("value") for p in overrides if p["id"] == "unit"]
            if not non_numeric and not mapped and (not units[0] or any(u not in UNITS for u in units)):
                report("panel-units-rule", f"has no or invalid units defined: {units}", name)
        for index, target in enumerate(targets):
            source = target.get("datasource") or panel.get("datasource")
            if isinstance(source, dict) and source.get("type") not in (None, "prometheus"):
                report("target-promql-rule", f"is a '{source.get('type')}' target, only Prometheus "
                       "targets can be linted", name, index)
                continue
            if datasource_uid(source) not in ds_names:
                report("panel-datasource-rule", "target does not use the templated datasource",
                       name, index)
            expr = target.get("expr", "")
            if not expr.strip():
                report("target-promql-rule", "has an empty query", name, index)
                continue
            if kind not in QUERY_PANELS or not prometheus:
                continue
            promql.append(("target-promql-rule", name, index, expr))
            try:
                found = selectors(expr)
            except ValueError as error:
                report("target-promql-rule", f"cannot read '{expr}': {error}", name, index)
                continue
            for selector in found:
                if selector.range is not None and selector.parent in ("rate", "irate") and (
                    selector.range not in RATE_INTERVAL
                ):
                    report("target-rate-interval-rule",
                           f"invalid PromQL query '{expr}': should use $__rate_interval", name, index)
                if (selector.name or "").endswith("_total") and (
                    selector.range is None or selector.parent not in ("rate", "irate", "increase")
                ):
                    report("target-counter-agg-rule", f"counter metric '{selector.name}' is not "
                           "aggregated with rate, irate, or increase", name, index)
                for label in ("job", "instance"):
                    matchers = [m for m in selector.matchers if m[0] == label]
                    if not any(m[1] == "=~" and m[2] == f"${label}" for m in matchers):
                        report(f"target-{label}-rule",
                               f"invalid PromQL query '{expr}': selector "
                               f"'{selector.name or '{...}'}' has no {label}=~\"${label}\" matcher",
                               name, index)

    results += check_promql(title, promql, variables)
    return results


def check_promql(title, queries, variables) -> list[Result]:
    """Every query, expanded as dashboard-linter expands it, parsed by promtool."""
    if not queries:
        return []
    groups = [
        {"name": f"q{i}", "rules": [{"record": f"lint_query_{i}", "expr": expand(expr, variables)}]}
        for i, (_, _, _, expr) in enumerate(queries)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        json.dump({"groups": groups}, handle)
    try:
        run = subprocess.run(["promtool", "check", "rules", handle.name],
                             capture_output=True, text=True, check=False)
    finally:
        Path(handle.name).unlink()
    if run.returncode == 0:
        return []
    results = []
    for line in (run.stdout + run.stderr).splitlines():
        match = re.search(r'group "q(\d+)", rule \d+, "[^"]*": (.*)', line)
        if match:
            rule, panel, target, expr = queries[int(match.group(1))]
            results.append(Result(rule, "error", title, panel, target,
                                  f"invalid PromQL query '{expr}': {match.group(2)}"))
    if not results:
        results.append(Result("target-promql-rule", "error", title, None, None,
                              f"promtool failed:\n{run.stdout}{run.stderr}"))
    return results


# --- exclusions (.lint) ----------------------------------------------------------------------
def load_config(directory: Path) -> tuple[dict, list[str]]:
    path = directory / ".lint"
    if not path.exists():
        return {"exclusions": {}, "warnings": {}}, []
    config = yaml.safe_load(path.read_text()) or {}
    problems = []
    for section in ("exclusions", "warnings"):
        config[section] = config.get(section) or {}
        for rule, spec in config[section].items():
            spec = config[section][rule] = spec or {}
            entries = spec.get("entries") or []
            if not spec.get("reason") and not all(e.get("reason") for e in entries):
                problems.append(f"{path}: {section} of '{rule}' has no reason")
    return config, problems


def matches(entry: dict, result: Result) -> bool:
    if entry.get("dashboard") and entry["dashboard"] != result.dashboard:
        return False
    if entry.get("panel") and result.panel is not None and entry["panel"] != result.panel:
        return False
    idx = entry.get("targetIdx")
    if result.target is not None and idx not in (None, "") and int(idx) != result.target:
        return False
    return True


def apply_config(config: dict, results: list[Result], used: set) -> None:
    for result in results:
        for section, severity in (("exclusions", "excluded"), ("warnings", "warning")):
            if result.rule not in config[section]:
                continue
            entries = config[section][result.rule].get("entries") or []
            hits = [i for i, entry in enumerate(entries) if matches(entry, result)]
            if entries and not hits:
                continue
            used.update((section, result.rule, i) for i in (hits or [None]))
            result.severity = severity
            if severity == "excluded":
                break


def main(paths: list[str]) -> int:
    failed = False
    by_directory: dict[Path, list[Path]] = {}
    for name in paths:
        path = Path(name).resolve()
        by_directory.setdefault(path.parent, []).append(path)
    for directory, files in by_directory.items():
        config, problems = load_config(directory)
        used: set = set()
        for path in files:
            try:
                dashboard = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as error:
                print(f"[error] {path}: cannot read: {error}")
                failed = True
                continue
            results = lint_dashboard(path, dashboard)
            apply_config(config, results, used)
            shown = [r for r in results if r.severity != "excluded"]
            for result in shown:
                print(f"[{result.severity}] {result.rule}: {result.where()} {result.message}")
            excluded = len(results) - len(shown)
            print(f"{path.name}: {len(shown)} problem(s), {excluded} excluded by .lint")
            failed |= bool(shown)
        # An entry nobody matched is stale, once every dashboard of the directory was linted.
        if sorted(files) == sorted(directory.glob("*.json")):
            for section in ("exclusions", "warnings"):
                for rule, spec in config[section].items():
                    entries = spec.get("entries") or []
                    keys = [i for i in range(len(entries))] or [None]
                    for key in keys:
                        if (section, rule, key) not in used:
                            what = f"entry {entries[key]}" if key is not None else "(whole rule)"
                            problems.append(f"{directory}/.lint: {section} of '{rule}' {what} "
                                            "matches no problem: remove it")
        for problem in problems:
            print(f"[error] lint-config: {problem}")
        failed |= bool(problems)
    return 1 if failed else 0


sys.exit(main(sys.argv[1:]))
PYTHON

linter="${DASHBOARD_LINTER:-$(command -v dashboard-linter || true)}"
if [[ -n "$linter" ]]; then
  for dashboard in "${dashboards[@]}"; do
    echo "== $linter lint --strict $dashboard"
    "$linter" lint --strict "$dashboard" || status=1
  done
fi

if [[ $status -eq 0 ]]; then
  echo "dashboards OK: ${#dashboards[@]} linted"
fi
exit "$status"
