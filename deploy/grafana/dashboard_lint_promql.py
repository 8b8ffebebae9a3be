"""The PromQL half of the dashboard lint (see dashboard_lint.py): Grafana variables expanded the way
dashboard-linter expands them, the target rules read from promql-parser's AST, promtool as judge.

Two parsers on purpose: promql-parser (a port of Prometheus' parser) tells which selector sits in
which function with which matchers; promtool, from the Prometheus release we run, decides whether
a query is valid, so a query promql-parser cannot read is only reported when promtool accepts it.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import promql_parser

# Sample values of Grafana's global variables: dashboard-linter's values less their last digit,
# because promql-parser 0.12.0 refuses a duration whose number exceeds 2^32 - 1 ("duration must be
# greater than 0"), as each of dashboard-linter's (8869990787ms and the like) does.
GLOBALS = {
    "__rate_interval": "886999078ms",
    "__interval": "486785661ms",
    "__interval_ms": "778118878",
    "__range_ms": "673766798",
    "__range_s": "939779548",
    "__range": "606977074ms",
    "__auto": "12345ms",
}
RATE_INTERVAL = timedelta(milliseconds=886999078)  # GLOBALS["__rate_interval"]
VARIABLE = re.compile(r"\$(\w+)|\$\{([^}]+)\}|\[\[([^\[\]]+)\]\]")
RATES = {"rate", "irate"}
COUNTER_FUNCTIONS = {"rate", "irate", "increase"}
REQUIRED_MATCHERS = ("job", "instance")
OPERATORS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
PROMTOOL_ERROR = re.compile(r'group "q(\d+)", rule \d+, "[^"]*": (.*)')

Matcher = tuple[str, str, str]  # (label, operator as written in PromQL, value)


@dataclass(frozen=True)
class Selector:
    """A series selector with what the target rules ask about it."""

    name: str | None
    alternatives: tuple[tuple[Matcher, ...], ...]  # `{a="1" or b="2"}` has two, usually one
    range: timedelta | None  # of a matrix selector; None for an instant or subquery selector
    enclosing: str | None  # innermost function or aggregation; None inside plain parentheses

    def requires(self, label: str, operator: str, value: str) -> bool:
        return all((label, operator, value) in matchers for matchers in self.alternatives)


class PromtoolFailed(Exception):
    """promtool failed without naming a query (bad install, unexpected output)."""


# --- variables -----------------------------------------------------------------------------------
def current_value(variable: dict) -> str:
    """What a variable expands to: its current value, `allValue` for All, else its first option."""
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
    """dashboard-linter's expansion, before any parsing: outside double-quoted strings only, so a
    matcher such as job=~"$job" keeps the variable the target rules look for."""

    def sample(match: re.Match) -> str:
        name = next(group for group in match.groups() if group is not None).split(":")[0]
        if name in GLOBALS:
            return GLOBALS[name]
        if name in variables:
            others = {key: value for key, value in variables.items() if key != name}
            return expand(current_value(variables[name]), others)
        return name

    parts = expr.split('"')
    for index in range(0, len(parts), 2):
        parts[index] = VARIABLE.sub(sample, parts[index])
    return '"'.join(parts)


# --- structure, from promql-parser's AST ---------------------------------------------------------
def selectors(query: str) -> list[Selector]:
    """Every series selector of an expanded query, in query order; ValueError when promql-parser
    cannot read it."""
    found: list[Selector] = []
    path: list[promql_parser.Expr] = []

    def enter(node: promql_parser.Expr) -> None:
        inside_matrix = bool(path) and isinstance(path[-1], promql_parser.MatrixSelector)
        if isinstance(node, promql_parser.MatrixSelector):
            found.append(_selector(node.vector_selector, node.range, path))
        elif isinstance(node, promql_parser.VectorSelector) and not inside_matrix:
            found.append(_selector(node, None, path))
        path.append(node)

    def leave(_node: promql_parser.Expr) -> None:
        path.pop()

    promql_parser.walk(promql_parser.parse(query), enter, leave)
    return found


def _selector(node, range_: timedelta | None, path: list) -> Selector:
    matchers = node.matchers
    alternatives = matchers.or_matchers or [matchers.matchers]
    return Selector(
        name=node.name,
        alternatives=tuple(tuple(_matcher(m) for m in group) for group in alternatives),
        range=range_,
        enclosing=_enclosing(path),
    )


def _matcher(matcher) -> Matcher:
    operator = OPERATORS[str(matcher.op).rpartition(".")[2]]
    return (matcher.name, operator, matcher.value)


def _enclosing(path: list) -> str | None:
    for node in reversed(path):
        if isinstance(node, promql_parser.Call):
            return node.func.name
        if isinstance(node, promql_parser.AggregateExpr):
            return str(node.op)
        if isinstance(node, promql_parser.ParenExpr):
            return None
    return None


# --- target rules --------------------------------------------------------------------------------
def target_problems(expr: str, found: list[Selector]) -> list[tuple[str, str]]:
    """(rule, message) for each selector of a panel target breaking a rule; ``expr`` as written."""
    problems = []
    for selector in found:
        problems += _rate_interval(expr, selector)
        problems += _counter_aggregation(selector)
        problems += _required_matchers(expr, selector)
    return problems


def _rate_interval(expr: str, selector: Selector) -> list[tuple[str, str]]:
    if selector.range is None or selector.enclosing not in RATES:
        return []
    if selector.range == RATE_INTERVAL:
        return []
    message = f"invalid PromQL query '{expr}': should use $__rate_interval"
    return [("target-rate-interval-rule", message)]


def _counter_aggregation(selector: Selector) -> list[tuple[str, str]]:
    if not (selector.name or "").endswith("_total"):
        return []
    if selector.range is not None and selector.enclosing in COUNTER_FUNCTIONS:
        return []
    message = f"counter metric '{selector.name}' is not aggregated with rate, irate, or increase"
    return [("target-counter-agg-rule", message)]


def _required_matchers(expr: str, selector: Selector) -> list[tuple[str, str]]:
    problems = []
    for label in REQUIRED_MATCHERS:
        if not selector.requires(label, "=~", f"${label}"):
            message = (
                f"invalid PromQL query '{expr}': selector '{selector.name or '{...}'}' "
                f'has no {label}=~"${label}" matcher'
            )
            problems.append((f"target-{label}-rule", message))
    return problems


# --- promtool ------------------------------------------------------------------------------------
def promtool_rejections(queries: list[str]) -> dict[int, str]:
    """promtool's error for each expanded query it rejects, by index: one recording rule per query,
    each in its own group so that an error names its query."""
    if not queries:
        return {}
    groups = [
        {"name": f"q{i}", "rules": [{"record": f"lint_query_{i}", "expr": query}]}
        for i, query in enumerate(queries)
    ]
    run = _promtool_check_rules({"groups": groups})
    if run.returncode == 0:
        return {}
    output = run.stdout + run.stderr
    rejections = {
        int(match.group(1)): match.group(2)
        for match in map(PROMTOOL_ERROR.search, output.splitlines())
        if match
    }
    if not rejections:
        raise PromtoolFailed(output)
    return rejections


def _promtool_check_rules(rules: dict) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        json.dump(rules, handle)  # JSON is YAML
    try:
        command = ["promtool", "check", "rules", handle.name]
        return subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        Path(handle.name).unlink()
