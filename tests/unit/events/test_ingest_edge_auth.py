"""Who may call the ingest edge, as fastapi.security reads the credentials and the edge refuses.

In process, with a publisher that stores nothing: what is checked is the answer (status, JSON
error, challenge), the refusal metrics, the OpenAPI document's security, and /metrics.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events.ingest_api import create_ingest_app
from events.publisher import Outgoing
from events.settings import Settings
from tests.support.crm import basic_auth, webhook_settings
from tests.support.native import call_logged

TOKEN = "s3cret"
BEARER_CHALLENGE = 'Bearer realm="salespulse"'
BASIC_CHALLENGE = 'Basic realm="salespulse"'


class AcceptingPublisher:
    """Acknowledges every batch at once, keeping nothing."""

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        return None

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


def ingest_client(**fields) -> httpx.AsyncClient:
    app = create_ingest_app(Settings(**fields), publisher=AcceptingPublisher())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")


def basic_header(raw: bytes) -> dict[str, str]:
    return {"Authorization": f"Basic {base64.b64encode(raw).decode()}"}


def refusal_counts(metrics_text: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["vendor"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
        if s.name == "salespulse_ingest_webhook_refusals_total"
    }


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Bearer {TOKEN}x"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({"Authorization": TOKEN}, 401),
        ({"Authorization": f"Bearer {TOKEN.upper()}"}, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, 202),
        ({"Authorization": f"bearer {TOKEN}"}, 202),
        ({"Authorization": f"BEARER   {TOKEN}  "}, 202),
    ],
)
async def test_only_the_configured_bearer_token_may_post_events_whatever_the_scheme_case(
    headers, status
):
    async with ingest_client(ingest_token=TOKEN) as client:
        response = await client.post("/v1/events", json=call_logged("auth-1"), headers=headers)

    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"] == BEARER_CHALLENGE
        assert response.json() == {
            "error": {
                "code": "unauthorized",
                "message": "missing or wrong 'Authorization: Bearer <token>'",
            }
        }


async def test_without_a_configured_token_events_need_no_credentials():
    async with ingest_client() as client:
        response = await client.post("/v1/events", json=call_logged("open-1"))

    assert response.status_code == 202, response.text
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic_auth(password="wrong"),
        basic_auth(user="someone"),
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic"},
        basic_header(b"no-colon-here"),
        basic_header("salespulse:pipe-s3cr\u00e9t".encode()),
        {"Authorization": "Bearer pipe-s3cret"},
    ],
    ids=["none", "password", "user", "not-base64", "empty", "no-colon", "non-ascii", "bearer"],
)
async def test_a_pipedrive_delivery_without_its_basic_credentials_is_refused_and_counted(headers):
    async with ingest_client(**webhook_settings()) as client:
        response = await client.post("/v1/webhooks/pipedrive", json={}, headers=headers)
        metrics = (await client.get("/metrics")).text

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BASIC_CHALLENGE
    assert response.json()["error"] == {
        "code": "unauthorized",
        "message": "missing or wrong HTTP Basic credentials",
    }
    assert refusal_counts(metrics) == {("pipedrive", "unauthorized"): 1}


async def test_the_right_basic_credentials_reach_the_delivery_checks():
    async with ingest_client(**webhook_settings()) as client:
        response = await client.post(
            "/v1/webhooks/pipedrive", content=b"{not json", headers=basic_auth()
        )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic !!!"}, basic_auth()])
async def test_an_unconfigured_pipedrive_webhook_is_404_whatever_the_credentials(headers):
    async with ingest_client() as client:
        response = await client.post("/v1/webhooks/pipedrive", json={}, headers=headers)

    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_configured")
    assert "www-authenticate" not in response.headers


async def test_the_openapi_document_declares_the_schemes_the_routes_check():
    async with ingest_client(ingest_token=TOKEN) as guarded, ingest_client() as open_ingest:
        with_token = (await guarded.get("/openapi.json")).json()
        without = (await open_ingest.get("/openapi.json")).json()

    assert with_token["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"},
        "basic": {"type": "http", "scheme": "basic"},
    }
    assert with_token["paths"]["/v1/events"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in without["paths"]["/v1/events"]["post"]
    for spec in (with_token, without):
        assert spec["paths"]["/v1/webhooks/pipedrive"]["post"]["security"] == [{"basic": []}]
        assert "/metrics" not in spec["paths"]


async def test_metrics_are_served_at_their_path_in_prometheus_text_and_counted_there():
    async with ingest_client(ingest_token=TOKEN) as client:
        await client.get("/metrics")
        response = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        refused = await client.post("/metrics")

    samples = {
        (s.name, s.labels.get("path"), s.labels.get("status"))
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert ("salespulse_ingest_requests_total", "/metrics", "200") in samples
    assert (refused.status_code, refused.json()["error"]["code"]) == (405, "method_not_allowed")
