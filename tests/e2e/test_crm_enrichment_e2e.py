"""HubSpot enrichment through a live stack: webhook in, the deal read from the CRM API, KPIs out.

A HubSpot webhook names a deal and one property at a time, never its company. With a private-app
token, ingest reads the deal and its associated company from HubSpot's CRM API (a local fake
here) and publishes a complete ``deal.created``: the deal counts as an opportunity, with its
company as the customer and its own currency converted by the rates file. Without the token the
same delivery gives no opportunity, and ingest's /readyz names the KPIs that stay empty.

Expected values are written out by hand: deal 9001 is worth 1200.50 USD, and 1 USD = 0.9 EUR.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import orjson
import pytest

from events.topics import TopicNames
from tests.support.crm import fixture_json, hubspot_headers, webhook_env
from tests.support.crm_topics import interpreted, read_published
from tests.support.fake_vendors import TOKENS, Portal, running_fake_vendors
from tests.support.kafka import Record
from tests.support.kpis import events_processed, eventually, fetch_kpis, subset_mismatches

pytestmark = pytest.mark.e2e

AS_OF = "2026-02-14T16:00:00Z"
RATES = "date,currency,rate\n2026-02-01,USD,0.9\n"
CONVERTED = 1200.5 * 0.9
COMPANY = "35201"
DEAL_RECORD = {  # deal 9001 as HubSpot's CRM v3 objects API returns it
    "id": "9001",
    "properties": {
        "amount": "1200.50",
        "createdate": "2026-02-14T10:00:00Z",
        "closedate": "2026-03-31T00:00:00Z",
        "deal_currency_code": "USD",
        "dealstage": "appointmentscheduled",
        "hs_deal_stage_probability": "0.2",
        "hs_is_closed": "false",
        "hs_is_closed_won": "false",
        "hs_lastmodifieddate": "2026-02-14T10:00:05Z",
        "hubspot_owner_id": "31337",  # rep-ana of team-north in the mapping file
        "lead_channel": "linkedin",  # the mapping's channel_property
        "pipeline": "default",
    },
    "createdAt": "2026-02-14T10:00:00Z",
    "updatedAt": "2026-02-14T10:00:05Z",
    "archived": False,
}


def new_deal_delivery() -> bytes:
    """HubSpot's batch for a new deal: its creation and its initial property changes.

    As in a real portal, the customer is the deal's associated company, which no webhook
    carries: the fixture's ``customer_id`` property change is left out.
    """
    items = [
        item
        for item in fixture_json("hubspot_new_deal.json")
        if item.get("propertyName") != "customer_id"
    ]
    currency = {**items[1], "eventId": 1006, "propertyName": "deal_currency_code"}
    return orjson.dumps([*items, {**currency, "propertyValue": "USD"}])


@pytest.fixture
def portal() -> Iterator[tuple[str, Portal]]:
    deals = Portal(hubspot_deals={"9001": DEAL_RECORD}, hubspot_companies={"9001": [COMPANY]})
    with running_fake_vendors(deals) as served:
        yield served


@pytest.fixture
def rated_crm_stack(make_stack, tmp_path):
    """Factory: a one-worker stack with ingest, the CRM webhooks and a USD rate; ``**env`` adds
    settings to every process."""

    def build(**env: str):
        rates = tmp_path / "rates.csv"
        rates.write_text(RATES)
        extra_env = {**webhook_env(), "SALESPULSE_CURRENCY_RATES_FILE": str(rates), **env}
        return make_stack(workers=1, extra_env=extra_env)

    return build


def post_delivery(stack) -> None:
    url = f"{stack.ingest.url}/v1/webhooks/hubspot"
    body = new_deal_delivery()
    response = httpx.post(url, content=body, headers=hubspot_headers(body, url), timeout=30)
    assert response.status_code == 200, response.text


def deal_events(stack) -> list[dict]:
    """Every event ingest published for the deliveries posted so far, in partition order.

    Read once its CRM interpreter has committed them all (it commits a delivery only after what it
    published for it is acknowledged): the whole topic, without waiting for it to be quiet.
    """

    async def read() -> list[Record]:
        await interpreted(stack.bootstrap, stack.prefix, timeout_s=60)
        return await read_published(stack.bootstrap, TopicNames(stack.prefix).deal_events)

    return [orjson.loads(record.value) for record in asyncio.run(read())]


def folded(check):
    """``eventually``, asking every 0.2 s rather than every second."""
    return eventually(check, pause_s=0.2)


def test_a_hubspot_new_deal_is_an_opportunity_with_its_company_and_converted_amount(
    portal, rated_crm_stack
):
    base_url, vendors = portal
    stack = rated_crm_stack(
        SALESPULSE_HUBSPOT_PRIVATE_APP_TOKEN=TOKENS["hubspot"],
        SALESPULSE_HUBSPOT_API_BASE_URL=base_url,
    )
    ready = httpx.get(f"{stack.ingest.url}/readyz", timeout=10).json()
    assert ready["crm"]["hubspot_api"] is True
    assert "hubspot_kpis_empty" not in ready["crm"]

    post_delivery(stack)

    opportunity = {
        "opportunities": 1,
        "pipeline_created": CONVERTED,
        "open_deals": 1,
        "open_pipeline": CONVERTED,
        "weighted_pipeline": CONVERTED * 0.2,
    }
    problems = folded(
        lambda: subset_mismatches(
            stack.workers[0].url,
            {
                "team|team-north|24h": opportunity,
                "rep|rep-ana|24h": opportunity,
                "channel|linkedin|24h": {"opportunities": 1, "pipeline_created": CONVERTED},
                "company||24h": {"opportunities": 1, "pipeline_created": CONVERTED},
            },
            AS_OF,
        )
    )
    assert problems == []
    [created] = [e for e in deal_events(stack) if e["type"] == "deal.created"]
    assert {
        name: created.get(name)
        for name in ("deal_id", "rep_id", "team_id", "customer_id", "amount", "currency")
    } == {
        "deal_id": "hubspot-9001",
        "rep_id": "rep-ana",
        "team_id": "team-north",
        "customer_id": COMPANY,
        "amount": 1200.5,
        "currency": "USD",
    }
    assert (created["channel"], created["occurred_at"]) == ("linkedin", "2026-02-14T10:00:00Z")
    assert ("POST", "/crm/v3/objects/deals/batch/read") in vendors.requests
    assert ("POST", "/crm/v4/associations/deals/companies/batch/read") in vendors.requests


def test_without_a_token_the_same_delivery_is_no_opportunity_and_readyz_says_which_kpis_stay_empty(
    rated_crm_stack,
):
    stack = rated_crm_stack()
    crm = httpx.get(f"{stack.ingest.url}/readyz", timeout=10).json()["crm"]
    assert crm["hubspot_api"] is False
    assert {"opportunities", "pipeline_created", "customers"} <= set(crm["hubspot_kpis_empty"])

    post_delivery(stack)

    published = deal_events(stack)
    assert Counter(e["type"] for e in published) == {"deal.updated": 3, "deal.reopened": 1}
    assert not any("customer_id" in e for e in published)
    first = published[0]  # the creation, with what the delivery knows: no customer
    assert (first["amount"], first["currency"], first["team_id"]) == (1200.5, "USD", "team-north")
    worker = stack.workers[0].url
    assert folded(lambda: [] if events_processed(worker) >= 4 else ["not folded yet"]) == []
    status, kpis = fetch_kpis(worker, "team|team-north|24h", AS_OF)
    assert (status, kpis.get("opportunities", 0), kpis.get("pipeline_created", 0)) in (
        (200, 0, 0),
        (404, 0, 0),
    )
