"""Every panel query of both Grafana dashboards answers with real, finite data from a live stack.

Two workers and the ingest API run on the test broker, a real Prometheus scrapes all three, and the
demo company feeds them: a week of history, live events that keep arriving while the queries run
(so rates and latency quantiles have fresh traffic), a rejected request, and a few poison messages
produced straight onto the topics (so the dead-letter panels have data). Each target is then run as
Grafana would run it with the dashboard's default variables: ``$window`` = 30d, ``$job`` and
``$instance`` = All (``.+``), ``$team`` and ``$rep`` = the saved default when Prometheus knows it
(Grafana's rule), otherwise the first value of the variable's own ``label_values`` query.

Firing alerts: ALERTS is empty on a healthy stack, so Prometheus also loads a test-only rule file
with one alert that always fires; the panel's query must then list it.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from events.demo import DemoCompany
from events.topics import TopicNames
from tests.support.kafka import produce_raw
from tests.support.kpis import eventually
from tests.support.native import call_logged, deal_created
from tests.support.prometheus import PrometheusError, PrometheusServer

pytestmark = pytest.mark.e2e

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
# Grafana's global variables, as Grafana would set them for a 5-minute range at a 1 s scrape.
GLOBALS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
ALWAYS_FIRING = "SalespulseDashboardTestAlwaysFiring"


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str
    range: bool

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def load_dashboards() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))]


def panel_queries(dashboard: dict) -> list[Query]:
    panels = [p for top in dashboard["panels"] for p in [top, *top.get("panels", [])]]
    return [
        Query(dashboard["title"], p["title"], t["refId"], t["expr"], bool(t.get("range")))
        for p in panels
        if p["type"] != "row"
        for t in p["targets"]
    ]


def interpolate(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return values[name] if name in values else match.group(0)

    return VARIABLE.sub(value, text)


def variable_values(prom: PrometheusServer, dashboard: dict) -> tuple[dict[str, str], list[str]]:
    """The dashboard's default variable values, resolved against Prometheus like Grafana does."""
    values, problems = dict(GLOBALS), []
    for variable in dashboard["templating"]["list"]:
        name, current = variable["name"], variable["current"]["value"]
        if variable["type"] == "datasource":
            continue
        if current in ("$__all", ["$__all"]):
            values[name] = variable["allValue"]
        elif variable["type"] != "query":
            values[name] = current
        else:
            query = interpolate(variable["query"]["query"], values)
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            assert match, f"{name}: unsupported variable query {query}"
            expr, label = match.groups()
            known = sorted(s["metric"][label] for s in prom.query(f"group by ({label}) ({expr})"))
            if not known:
                problems.append(f"variable {name}: {query} has no value yet")
            values[name] = current if current in known else (known[0] if known else current)
    return values, problems


def sample_problems(query: Query, points: list[list]) -> list[str]:
    """No sample, or any NaN/Inf among the ``[time, "value"]`` points of a result."""
    if not points:
        return [f"{query}: no sample for {query.expr}"]
    bad = sorted({value for _, value in points if not math.isfinite(float(value))})
    return [f"{query}: {bad} in {query.expr}"] if bad else []


def check_dashboards(prom: PrometheusServer, dashboards: list[dict]) -> list[str]:
    problems = []
    for dashboard in dashboards:
        values, variable_problems = variable_values(prom, dashboard)
        problems += variable_problems
        for query in panel_queries(dashboard):
            expr = interpolate(query.expr, values)
            assert "$" not in expr, f"{query}: variable left in {expr}"
            try:
                instant = prom.query(expr)
                problems += sample_problems(query, [series["value"] for series in instant])
                if query.range:  # a time-series panel: its last 10 s, as Grafana asks for them
                    now = time.time()
                    ranged = prom.query_range(expr, now - 10, now, 1)
                    problems += sample_problems(query, [p for s in ranged for p in s["values"]])
            except PrometheusError as error:  # an invalid query fails at once, not eventually
                pytest.fail(f"{query}: {error}")
    return problems


class LiveTraffic(threading.Thread):
    """Posts a few fresh demo events through the ingest API every half second until stopped."""

    def __init__(self, ingest_url: str, company: DemoCompany) -> None:
        super().__init__(daemon=True)
        self.ingest_url, self.company = ingest_url, company
        self.stopped = threading.Event()
        self.statuses: list[int] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.ingest_url, timeout=10) as client:
            while not self.stopped.wait(0.5):
                events = self.company.live(datetime.now(UTC), 4)
                self.statuses.append(client.post("/v1/events", json=events).status_code)

    def __enter__(self) -> LiveTraffic:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.join(15)


def poison(names: TopicNames) -> list[tuple[str, bytes | None, bytes | None]]:
    late_call = {**call_logged("dash-poison-3"), "occurred_at": "not a time"}
    return [
        (names.deal_events, b"dash-d-1", b"{not json"),
        (names.deal_events, b"wrong-key", orjson.dumps(deal_created("dash-poison-1", "dash-d-2"))),
        (
            names.deal_events,
            b"dash-d-3",
            orjson.dumps(deal_created("dash-poison-2", "dash-d-3", amount="lots")),
        ),
        (names.call_events, b"rep-1", orjson.dumps(late_call)),
    ]


def always_firing_rules(directory: Path) -> Path:
    path = directory / "dashboard-test-alerts.yml"
    rule = {"alert": ALWAYS_FIRING, "expr": "vector(1)", "labels": {"severity": "test"}}
    path.write_text(json.dumps({"groups": [{"name": "dashboard-test", "rules": [rule]}]}))
    return path


@pytest.mark.stack(workers=2, wait_workers=False)
def test_every_panel_query_of_both_dashboards_returns_finite_samples(own_stack, tmp_path):
    dashboards = load_dashboards()
    assert sorted(d["uid"] for d in dashboards) == ["salespulse-ops", "salespulse-sales"]
    stack = own_stack  # ingest ready, the workers still starting: Prometheus starts meanwhile
    targets = {
        "salespulse-workers": [w.url.removeprefix("http://") for w in stack.workers],
        "salespulse-ingest": [stack.ingest.url.removeprefix("http://")],
    }
    # Seed 3: its week of history already closes deals of rep-0, the $rep default, so that the
    # "Rep win rate" panel has data at once (seed 7's first one for rep-0 came only with the
    # live traffic's 37th post, some 19 s later).
    company = DemoCompany(now=datetime.now(UTC), seed=3)
    history = company.backfill(days=7) + company.live(datetime.now(UTC), 20)

    with PrometheusServer(
        tmp_path / "prometheus",
        scrape_targets=targets,
        rule_files=[always_firing_rules(tmp_path)],
        scrape_interval="1s",
        evaluation_interval="1s",
    ) as prom:
        with httpx.Client(base_url=stack.ingest.url, timeout=30) as client:
            for start in range(0, len(history), 1000):
                response = client.post("/v1/events", json=history[start : start + 1000])
                assert response.status_code == 202, response.text
            assert client.post("/v1/events", json=[{"type": "deal.won"}]).status_code == 422
        asyncio.run(produce_raw(stack.bootstrap, poison(TopicNames(stack.prefix))))
        stack.wait_all_ready()

        with LiveTraffic(stack.ingest.url, company) as live:
            prom.wait_for_targets_up(scrapes=3)
            problems = eventually(lambda: check_dashboards(prom, dashboards), timeout_s=60)
            firing = [a for a in prom.alerts() if a["labels"]["alertname"] == ALWAYS_FIRING]

    assert problems == [], "\n".join(problems)
    assert [a["state"] for a in firing] == ["firing"]
    assert live.statuses and set(live.statuses) == {202}
