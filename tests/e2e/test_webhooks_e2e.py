"""One CRM per test, through the whole stack: vendor webhook in -> KPIs out of /v1/kpis.

Each delivery is also sent a second time, as the vendor's retry would be: the KPIs must count it
once. Expected values are written out by hand from the fixtures and the mapping file.
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.support.crm import (
    SALESFORCE_PATH,
    basic_auth,
    fixture_bytes,
    fixture_json,
    hubspot_headers,
    webhook_env,
)
from tests.support.kpis import eventually, subset_mismatches

pytestmark = pytest.mark.e2e

AS_OF = "2026-02-14T16:00:00Z"


@pytest.fixture
def crm_stack(make_stack, monkeypatch):
    """A one-worker stack whose ingest accepts the three CRMs with the test credentials."""
    for name, value in webhook_env().items():
        monkeypatch.setenv(name, value)
    return make_stack(workers=1)


def post_twice(send) -> None:
    """Send a delivery, then its retry; both must be acknowledged."""
    for attempt in range(2):
        response = send(attempt)
        assert response.status_code == 200, response.text


def test_hubspot_webhooks_become_kpis(crm_stack):
    url = f"{crm_stack.ingest.url}/v1/webhooks/hubspot"

    for fixture in ("hubspot_new_deal.json", "hubspot_deal_won.json"):

        def send(attempt: int, fixture=fixture) -> httpx.Response:
            payload = fixture_json(fixture)
            for event in payload:
                event["attemptNumber"] = attempt
            body = orjson.dumps(payload)
            return httpx.post(url, content=body, headers=hubspot_headers(body, url), timeout=30)

        post_twice(send)

    won = {"opportunities": 1, "deals_won": 1, "revenue": 1200.5, "customers": 1}
    problems = eventually(
        lambda: subset_mismatches(
            crm_stack.workers[0].url,
            {"team|team-north|24h": won, "rep|rep-ana|24h": won, "company||24h": won},
            AS_OF,
        )
    )
    assert problems == []


def test_pipedrive_webhooks_become_kpis(crm_stack):
    url = f"{crm_stack.ingest.url}/v1/webhooks/pipedrive"
    fixtures = (
        "pipedrive_v2_create.json",
        "pipedrive_v2_won.json",
        "pipedrive_v1_updated_lost.json",
    )

    for fixture in fixtures:

        def send(attempt: int, fixture=fixture) -> httpx.Response:
            payload = fixture_json(fixture)
            if "attempt" in payload["meta"]:
                payload["meta"]["attempt"] = attempt + 1
            else:
                payload["retry"] = attempt
            return httpx.post(url, json=payload, headers=basic_auth(), timeout=30)

        post_twice(send)

    expected = {"opportunities": 1, "deals_won": 1, "deals_lost": 1, "revenue": 2500}
    problems = eventually(
        lambda: subset_mismatches(
            crm_stack.workers[0].url,
            {"team|team-south|24h": expected, "rep|rep-bo|24h": {**expected, "win_ratio": 0.5}},
            AS_OF,
        )
    )
    assert problems == []


def test_salesforce_outbound_messages_become_kpis(crm_stack):
    url = f"{crm_stack.ingest.url}{SALESFORCE_PATH}"
    body = fixture_bytes("salesforce_opportunity_won.xml")

    def send(_: int) -> httpx.Response:
        response = httpx.post(url, content=body, headers={"Content-Type": "text/xml"}, timeout=30)
        assert b"<Ack>true</Ack>" in response.content
        return response

    post_twice(send)

    problems = eventually(
        lambda: subset_mismatches(
            crm_stack.workers[0].url,
            {
                "team|team-east|24h": {"opportunities": 1, "deals_won": 1, "revenue": 4000},
                "team|team-default|24h": {"opportunities": 1, "deals_won": 0, "revenue": 0},
                "company||24h": {"opportunities": 2, "deals_won": 1, "revenue": 4000},
            },
            AS_OF,
        )
    )
    assert problems == []
