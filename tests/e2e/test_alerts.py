"""A real Prometheus evaluates our rules against a live stack: one team's conversion collapses.

The alert rules are loaded as shipped except for their ``for``/``keep_firing_for`` durations, which
are shortened so that pending-then-firing happens within the test.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.polling import wait_until
from tests.support.prometheus import PrometheusServer

pytestmark = pytest.mark.e2e

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules"
TEAMS = ("team-0", "team-1", "team-2", "team-3")
COLLAPSING = "team-2"
ALERT = "SalesTeamConversionDrop"
FOR_S = 2
"""Every alert's shortened ``for`` (and ``keep_firing_for``), in seconds."""


def shortened_rules(workdir: Path, seconds: int = FOR_S) -> list[Path]:
    """The shipped rule files with every ``for``/``keep_firing_for`` shortened to ``seconds``."""
    paths = []
    for source in sorted(RULES.glob("*.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                for field in ("for", "keep_firing_for"):
                    if field in rule:
                        rule[field] = f"{seconds}s"
        target = workdir / source.name
        target.write_text(yaml.safe_dump(rules, sort_keys=False))
        paths.append(target)
    return paths


class DealFactory:
    """Native deal events for one team: created, and won when asked."""

    def __init__(self) -> None:
        self.count = 0

    def deal(self, team: str, created: datetime, won: datetime | None) -> list[dict]:
        self.count += 1
        deal_id = f"{team}-deal-{self.count}"
        rep = f"{team}-rep-{self.count % 2}"
        events = [
            {
                "event_id": f"{deal_id}-created",
                "type": "deal.created",
                "deal_id": deal_id,
                "occurred_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "rep_id": rep,
                "team_id": team,
                "customer_id": f"{deal_id}-customer",
                "amount": 1000,
            }
        ]
        if won is not None:
            events.append(
                {
                    "event_id": f"{deal_id}-won",
                    "type": "deal.won",
                    "deal_id": deal_id,
                    "occurred_at": won.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        return events


def steady_history(deals: DealFactory, now: datetime) -> list[dict]:
    """Every team converts one deal in three: each day for four weeks, and over the last day."""
    events = []
    for team in TEAMS:
        for days_ago in range(2, 30):
            morning = (now - timedelta(days=days_ago)).replace(hour=10, minute=0, second=0)
            for n in range(3):
                events += deals.deal(
                    team, morning, morning + timedelta(hours=4) if n == 0 else None
                )
        for n in range(12):
            created = now - timedelta(hours=20) + timedelta(minutes=90 * n)
            events += deals.deal(
                team, created, created + timedelta(minutes=30) if n % 3 == 0 else None
            )
    return [e for e in events if e["occurred_at"] <= now.strftime("%Y-%m-%dT%H:%M:%SZ")]


def post(ingest_url: str, events: list[dict]) -> None:
    with httpx.Client(base_url=ingest_url, timeout=30) as client:
        for start in range(0, len(events), 1000):
            response = client.post("/v1/events", json=events[start : start + 1000])
            assert response.status_code == 202, response.text


def alert_states(prometheus: PrometheusServer) -> dict[str, str]:
    return {
        alert["labels"].get("id", ""): alert["state"]
        for alert in prometheus.alerts()
        if alert["labels"]["alertname"] == ALERT
    }


def follow_collapsing_alert(prometheus: PrometheusServer, seen: list[str]) -> list[str]:
    """Append the collapsing team's alert state to ``seen`` when it changed; meanwhile no other
    team may alert. Returns ``seen``: the states it went through so far."""
    states = alert_states(prometheus)
    assert set(states) <= {COLLAPSING}, f"other teams alerted: {states}"
    if states.get(COLLAPSING) and (not seen or seen[-1] != states[COLLAPSING]):
        seen.append(states[COLLAPSING])
    return seen


@pytest.mark.stack(workers=2, wait_workers=False)
def test_a_team_whose_conversion_collapses_pages_and_the_other_teams_do_not(own_stack, tmp_path):
    stack = own_stack  # ingest ready, the workers still starting: Prometheus starts meanwhile
    deals, now = DealFactory(), datetime.now(UTC)
    post(stack.ingest.url, steady_history(deals, now))
    targets = {
        "salespulse-workers": [w.url.removeprefix("http://") for w in stack.workers],
        "salespulse-ingest": [stack.ingest.url.removeprefix("http://")],
    }
    with PrometheusServer(
        tmp_path / "prometheus",
        scrape_targets=targets,
        rule_files=shortened_rules(tmp_path),
        scrape_interval="1s",
        evaluation_interval="1s",
    ) as prometheus:
        stack.wait_all_ready()
        prometheus.wait_for_targets_up()
        wait_until(
            lambda: prometheus.query('team:sales_conversion:ratio{window="24h"}'),
            60,
            0.5,
            "team conversion recorded for every team",
            until=lambda series: len(series) >= len(TEAMS),
        )
        time.sleep(FOR_S + 2)  # longer than `for`: a steady team would have fired by now
        assert alert_states(prometheus) == {}

        collapse = [e for n in range(30) for e in deals.deal(COLLAPSING, datetime.now(UTC), None)]
        post(stack.ingest.url, collapse)

        seen: list[str] = []
        wait_until(
            lambda: follow_collapsing_alert(prometheus, seen),
            60,
            0.2,
            f"{ALERT} firing for {COLLAPSING}",
            until=lambda states: "firing" in states,
        )
        assert seen[:2] == ["pending", "firing"], seen
        company = [
            a
            for a in prometheus.alerts()
            if a["labels"]["alertname"] == "SalesCompanyConversionDrop"
        ]
        assert company == []
