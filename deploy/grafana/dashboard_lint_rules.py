"""The dashboard, template, panel and target rules of the dashboard lint (see dashboard_lint.py),
under dashboard-linter v0.2.0's names; the PromQL structure comes from dashboard_lint_promql.

Stricter than upstream where upstream only looks at some panel types: panel rules apply to every
panel but rows. The LogQL rules do not apply (no Loki data source); a target of any other data
source type is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dashboard_lint_promql as promql

QUERY_PANELS = {
    "stat", "singlestat", "gauge", "graph", "table", "timeseries", "state-timeline", "barchart",
    "bargauge", "piechart", "heatmap", "histogram", "status-history",
}  # fmt: skip
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
    cps ops reqps rps wps iops cpm opm rpm wpm mps mpm""".split()  # noqa: SIM905 (one id per word)
)
VARIABLE_FUNCTIONS = {"label_names", "label_values", "metrics", "query_result"}


@dataclass
class Result:
    """One rule's verdict on one place of a dashboard; `.lint` may turn an error into a warning or
    exclude it."""

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


@dataclass
class Query:
    """A PromQL query of the dashboard, expanded, waiting for promtool's verdict."""

    rule: str  # the rule a rejection is reported under
    panel: str | None
    target: int | None
    expr: str  # as written, for messages
    expanded: str
    unreadable: str | None  # promql-parser's error, reported only if promtool accepts the query


@dataclass
class Findings:
    """What linting one dashboard found."""

    dashboard: str
    results: list[Result] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)

    def report(self, rule, message, panel=None, target=None, severity="error") -> None:
        self.results.append(Result(rule, severity, self.dashboard, panel, target, message))


@dataclass(frozen=True)
class Templating:
    """The template variables, which the template rules check and the queries expand."""

    variables: dict[str, dict]
    datasources: list[dict]

    @classmethod
    def of(cls, dashboard: dict) -> Templating:
        listed = dashboard.get("templating", {}).get("list", [])
        sources = [v for v in listed if v.get("type", "").lower() == "datasource"]
        return cls({v["name"]: v for v in listed}, sources)

    @property
    def prometheus(self) -> bool:
        return bool(self.datasources) and self.datasources[0].get("query") == "prometheus"

    @property
    def datasource_refs(self) -> set[str]:
        names = [v["name"] for v in self.datasources]
        return {f"${name}" for name in names} | {f"${{{name}}}" for name in names}

    def query(self, rule, panel, target, expr) -> tuple[Query, list[promql.Selector]]:
        """The query expanded, and its selectors (none when promql-parser cannot read it)."""
        expanded = promql.expand(expr, self.variables)
        try:
            return Query(rule, panel, target, expr, expanded, None), promql.selectors(expanded)
        except ValueError as error:
            return Query(rule, panel, target, expr, expanded, str(error)), []


def datasource_uid(source) -> str | None:
    return source.get("uid") if isinstance(source, dict) else source


def panels_of(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])
    for row in dashboard.get("rows", []):
        yield from row.get("panels", [])


def lint_dashboard(dashboard: dict, default_title: str) -> Findings:
    """Every rule but promtool's verdict, which `judge` adds once `findings.queries` is complete."""
    findings = Findings(dashboard.get("title", default_title))
    templating = Templating.of(dashboard)
    datasource_template_rule(templating, findings)
    if templating.prometheus:
        for name in promql.REQUIRED_MATCHERS:
            required_template_rule(templating.variables.get(name), name, findings)
    for variable in templating.variables.values():
        query_variable_rules(variable, templating, findings)
    if dashboard.get("editable", True):
        findings.report(
            "uneditable-dashboard", "is editable, it should be set to 'editable: false'"
        )
    for panel in panels_of(dashboard):
        if panel.get("type") != "row":
            panel_rules(panel, templating, findings)
    return findings


# --- template rules ------------------------------------------------------------------------------
def datasource_template_rule(templating: Templating, findings: Findings) -> None:
    if not templating.datasources:
        findings.report("template-datasource-rule", "does not have a templated data source")
    single = len(templating.datasources) == 1
    for variable in templating.datasources:
        query = variable.get("query", "")
        names = {f"{query.lower()}_datasource"} | ({"datasource"} if single else set())
        labels = {f"{query.title()} data source"} | ({"Data source"} if single else set())
        if variable["name"] not in names:
            message = f"templated data source variable named '{variable['name']}'"
            findings.report(
                "template-datasource-rule", f"{message}, should be one of {sorted(names)}"
            )
        if variable.get("label") not in labels:
            message = f"templated data source variable labeled '{variable.get('label')}'"
            message += f", should be one of {sorted(labels)}"
            findings.report("template-datasource-rule", message, severity="warning")


def required_template_rule(variable: dict | None, name: str, findings: Findings) -> None:
    """template-job-rule and template-instance-rule."""
    rule = f"template-{name}-rule"
    if variable is None:
        findings.report(rule, f"is missing the {name} template")
        return
    if datasource_uid(variable.get("datasource")) not in {"$datasource", "${datasource}"}:
        findings.report(rule, f"{name} template should use datasource '$datasource'")
    if variable.get("type") != "query":
        message = f"{name} template should be a Prometheus query, is '{variable.get('type')}'"
        findings.report(rule, message)
    if variable.get("label") != name.title():
        message = f"{name} template should be labeled '{name.title()}'"
        findings.report(rule, message, severity="warning")
    if not variable.get("multi"):
        findings.report(rule, f"{name} template should be a multi select")
    if variable.get("allValue") != ".+":
        message = f"{name} template allValue should be '.+', is '{variable.get('allValue')}'"
        findings.report(rule, message)


def query_variable_rules(variable: dict, templating: Templating, findings: Findings) -> None:
    """template-on-time-change-reload-rule and template-label-promql-rule."""
    if variable.get("type") != "query":
        return
    if variable.get("refresh") != 2:
        message = (
            f"template variable '{variable['name']}' should refresh 'On time range change' (2), "
            f"is {variable.get('refresh')}"
        )
        findings.report("template-on-time-change-reload-rule", message)
    if templating.prometheus:
        label_promql_rule(variable, templating, findings)


def label_promql_rule(variable: dict, templating: Templating, findings: Findings) -> None:
    """Grafana's variable functions are not PromQL: their PromQL argument is cut out here and
    judged like a panel query."""
    rule, name = "template-label-promql-rule", variable["name"]
    query = variable_query(variable).strip()
    match = re.fullmatch(r"(\w+)\((.*)\)", query, re.S)
    function, argument = (match.group(1), match.group(2).strip()) if match else (None, "")
    if function not in VARIABLE_FUNCTIONS:
        findings.report(rule, f"template '{name}' invalid query '{query}'")
        return
    expr = ""
    if function == "label_values":
        expr, _, label = argument.rpartition(",")
        label, expr = label.strip(), expr.strip()
        if not re.fullmatch(r"[A-Za-z_]\w*", label):
            findings.report(rule, f"template '{name}' invalid label name '{label}'")
    elif function == "query_result":
        expr = argument
    if expr:
        findings.queries.append(templating.query(rule, f"variable {name}", None, expr)[0])


def variable_query(variable: dict) -> str:
    query = variable.get("query")
    return query.get("query", "") if isinstance(query, dict) else (query or "")


# --- panel and target rules ----------------------------------------------------------------------
def panel_rules(panel: dict, templating: Templating, findings: Findings) -> None:
    name = panel.get("title", "")
    if not name or not panel.get("description"):
        findings.report("panel-title-description-rule", "has missing title or description", name)
    uid = datasource_uid(panel.get("datasource"))
    if uid not in templating.datasource_refs:
        message = f"does not use a templated datasource, uses '{uid}'"
        findings.report("panel-datasource-rule", message, name)
    targets = panel.get("targets") or []
    if not targets:
        findings.report("panel-no-targets-rule", "has no targets", name)
    if panel.get("type") in UNIT_PANELS:
        units_rule(panel, findings)
    for index, target in enumerate(targets):
        target_rules(panel, index, target, templating, findings)


def units_rule(panel: dict, findings: Findings) -> None:
    """A number needs a unit, unless value mappings turn it into text or a stat shows a field."""
    field_config = panel.get("fieldConfig") or {}
    defaults = field_config.get("defaults") or {}
    overrides = [p for o in field_config.get("overrides") or [] for p in o.get("properties", [])]
    reduce_options = (panel.get("options") or {}).get("reduceOptions", {})
    non_numeric = panel.get("type") == "stat" and reduce_options.get("fields")
    mapped = defaults.get("mappings") or any(p["id"] == "mappings" for p in overrides)
    units = [defaults.get("unit")] + [p.get("value") for p in overrides if p["id"] == "unit"]
    if non_numeric or mapped:
        return
    if not units[0] or any(unit not in UNITS for unit in units):
        message = f"has no or invalid units defined: {units}"
        findings.report("panel-units-rule", message, panel.get("title", ""))


def target_rules(panel, index: int, target: dict, templating: Templating, findings) -> None:
    name = panel.get("title", "")
    source = target.get("datasource") or panel.get("datasource")
    if isinstance(source, dict) and source.get("type") not in (None, "prometheus"):
        message = f"is a '{source.get('type')}' target, only Prometheus targets can be linted"
        findings.report("target-promql-rule", message, name, index)
        return
    if datasource_uid(source) not in templating.datasource_refs:
        message = "target does not use the templated datasource"
        findings.report("panel-datasource-rule", message, name, index)
    expr = target.get("expr") or ""
    if not expr.strip():
        findings.report("target-promql-rule", "has an empty query", name, index)
        return
    if panel.get("type") not in QUERY_PANELS or not templating.prometheus:
        return
    query, found = templating.query("target-promql-rule", name, index, expr)
    findings.queries.append(query)
    for rule, message in promql.target_problems(expr, found):
        findings.report(rule, message, name, index)


# --- promtool's verdict --------------------------------------------------------------------------
def judge(findings: Findings) -> None:
    """promtool judges every query; a query only promql-parser refuses is reported too, since the
    target rules could not read it."""
    try:
        rejections = promql.promtool_rejections([q.expanded for q in findings.queries])
    except promql.PromtoolFailed as failure:
        findings.report("target-promql-rule", f"promtool failed:\n{failure}")
        return
    for index, query in enumerate(findings.queries):
        if index in rejections:
            message = f"invalid PromQL query '{query.expr}': {rejections[index]}"
        elif query.unreadable is not None:
            message = f"cannot read '{query.expr}': promql-parser: {query.unreadable}"
        else:
            continue
        findings.report(query.rule, message, query.panel, query.target)
