"""Workers with a read token: every route but the probes needs it, forwarding carries it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.kpis import eventually
from tests.support.native import deal_created

pytestmark = pytest.mark.e2e

TOKEN = f"read-token-{uuid.uuid4().hex}"
TEAMS = [f"team-{i}" for i in range(12)]
FAUST_VIEWS = ["/", "/table/", "/table/deals/deal-team-0/", "/router/", "/assignment/", "/graph/"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def exported_teams(url: str) -> set[str]:
    """Team ids whose KPI series this worker exports (the keys it owns)."""
    response = httpx.get(f"{url}/metrics", headers=bearer(TOKEN), timeout=10)
    assert response.status_code == 200, response.text
    return {
        sample.labels["id"]
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "sales_opportunities" and sample.labels.get("scope") == "team"
    }


def test_with_a_read_token_only_the_bearer_reads_and_workers_still_forward_to_each_other(
    make_stack, monkeypatch
):
    monkeypatch.setenv("SALESPULSE_WORKER_READ_TOKEN", TOKEN)
    stack = make_stack(workers=2)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    events = [
        deal_created(f"auth-{team}", f"deal-{team}", team_id=team, occurred_at=hour_ago)
        for team in TEAMS
    ]
    assert httpx.post(f"{stack.ingest.url}/v1/events", json=events, timeout=30).status_code == 202
    first, second = stack.workers

    def ownership_settled() -> list[str]:
        owned = [exported_teams(first.url), exported_teams(second.url)]
        problems = [f"{team} exported by no worker" for team in set(TEAMS) - owned[0] - owned[1]]
        return problems + [f"{team} exported twice" for team in owned[0] & owned[1]]

    assert eventually(ownership_settled) == []
    owned_by_first = exported_teams(first.url)
    assert owned_by_first and owned_by_first != set(TEAMS), "both workers own some teams"
    params = {"scope": "team", "window": "24h"}

    for worker in (first, second):
        for team in TEAMS:
            url = f"{worker.url}/v1/kpis"
            query = {**params, "id": team}
            answered = httpx.get(url, params=query, headers=bearer(TOKEN), timeout=10)
            assert answered.status_code == 200, (worker.name, team, answered.text)
            assert answered.json()["kpis"]["opportunities"] == 1
            for headers in ({}, bearer("wrong"), {"Authorization": TOKEN}):
                refused = httpx.get(url, params=query, headers=headers, timeout=10)
                assert refused.status_code == 401, (worker.name, team, headers)
                assert refused.json()["error"]["code"] == "unauthorized"
                assert refused.headers["www-authenticate"] == 'Bearer realm="salespulse"'

        metrics = httpx.get(f"{worker.url}/metrics", timeout=10)
        assert metrics.status_code == 401
        assert metrics.json()["error"]["code"] == "unauthorized"
        for path in FAUST_VIEWS:
            assert httpx.get(f"{worker.url}{path}", timeout=10).status_code == 401, path
            with_token = httpx.get(f"{worker.url}{path}", headers=bearer(TOKEN), timeout=10)
            assert with_token.status_code == 404, (path, with_token.text)
        far = {**params, "id": TEAMS[0], "window": "mtd", "as_of": "9999-12-31T00:00:00Z"}
        refused = httpx.get(f"{worker.url}/v1/kpis", params=far, headers=bearer(TOKEN))
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_request"
        assert_listings(worker.url)
        assert httpx.get(f"{worker.url}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"{worker.url}/readyz", timeout=10).status_code == 200
        assert TOKEN not in worker.log_path.read_text(errors="replace")


def assert_listings(url: str) -> None:
    """The whole listing is complete; one marked as forwarded (by a client) never is."""
    whole = httpx.get(f"{url}/v1/keys", params={"scope": "team"}, headers=bearer(TOKEN)).json()
    assert whole["complete"] is True
    assert {item["id"] for item in whole["keys"]} >= set(TEAMS)
    forged = {**bearer(TOKEN), "X-Salespulse-Forwarded": "1"}
    part = httpx.get(f"{url}/v1/keys", params={"scope": "team"}, headers=forged).json()
    assert part["complete"] is False
    assert {item["id"] for item in part["keys"]} < {item["id"] for item in whole["keys"]}


def test_without_a_read_token_metrics_and_kpis_stay_open(make_stack, monkeypatch):
    monkeypatch.delenv("SALESPULSE_WORKER_READ_TOKEN", raising=False)
    stack = make_stack(workers=1, ingest=False)
    worker = stack.workers[0]

    assert httpx.get(f"{worker.url}/metrics", timeout=10).status_code == 200
    unknown = httpx.get(
        f"{worker.url}/v1/kpis", params={"scope": "team", "id": "nobody", "window": "1h"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_key"
