"""CRM deliveries against the real broker: stored as they came, interpreted item by item.

The ingest app runs with its lifespan, so its delivery interpreter reads the raw-deliveries topic
as in production. A delivery mixing good items with an association change, an unrated currency
and a deleted Salesforce record is acknowledged; the good items reach the deal topic once, each
bad one is a dead letter with its reason, and the unrated one counts once re-injected after the
rate is configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from events.publisher import EventPublisher
from events.topics import DLQ_REASON, TopicNames
from streams.tools.dead_letter_report import dead_letter_of, reinjection
from tests.support.crm import (
    SALESFORCE_ORG,
    SALESFORCE_PATH,
    fixture_json,
    hubspot_headers,
    soap_notifications,
    webhook_settings,
)
from tests.support.crm_ingest import Ingests, running_ingests
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

HUBSPOT_URL = "http://ingest/v1/webhooks/hubspot"
SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
ASSOCIATION_CHANGE = fixture_json("hubspot_association_change.json")  # no objectId
GOOD_OPPORTUNITY = {
    "Id": "0065g00000OPP01AAA",
    "Amount": "4000.0",
    "IsClosed": "true",
    "IsWon": "true",
    "LastModifiedDate": "2026-02-14T15:00:05.000Z",
    "LastStageChangeDate": "2026-02-14T15:00:00.000Z",
    "OwnerId": "0055g00000USR01AAA",
}


def usd_amount(event_id: int, name: str, value: str) -> dict:
    return {
        **fixture_json("hubspot_deal_won.json")[0],
        "eventId": event_id,
        "objectId": 9100,
        "propertyName": name,
        "propertyValue": value,
    }


@pytest.fixture
async def ingests(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Ingests]:
    async with running_ingests(kafka_bootstrap, topic_prefix) as started:
        yield started


async def post_mixed_deliveries(client: httpx.AsyncClient) -> tuple[httpx.Response, ...]:
    hubspot = [
        *fixture_json("hubspot_deal_won.json"),
        ASSOCIATION_CHANGE,
        usd_amount(3003, "amount", "500"),
        usd_amount(3004, "deal_currency_code", "USD"),
    ]
    body = orjson.dumps(hubspot)
    first = await client.post(
        "/v1/webhooks/hubspot", content=body, headers=hubspot_headers(body, HUBSPOT_URL)
    )
    deleted = ("04l5g00000AAAA9AAA", {})
    soap = soap_notifications(SALESFORCE_ORG, [("04l5g00000AAAA1AAA", GOOD_OPPORTUNITY), deleted])
    second = await client.post(SALESFORCE_PATH, content=soap, headers=SOAP)
    return first, second


async def test_a_mixed_delivery_is_acknowledged_and_only_its_bad_items_are_dead_letters(
    ingests, kafka_bootstrap, topic_prefix
):
    names = TopicNames(topic_prefix)
    client = await ingests.start(**webhook_settings())

    hubspot, salesforce = await post_mixed_deliveries(client)

    assert hubspot.status_code == 200, hubspot.text
    assert hubspot.json()["items"] == 4
    assert (salesforce.status_code, b"<Ack>true</Ack>" in salesforce.content) == (200, True)
    events = await read_topic(kafka_bootstrap, names.deal_events, expect=3, timeout_s=30)
    letters = await read_topic(kafka_bootstrap, names.dead_letters, expect=2, timeout_s=30)
    assert sorted(orjson.loads(r.value)["deal_id"] for r in events) == [
        "hubspot-9001",
        "salesforce-0065g00000OPP01AAA",
        "salesforce-0065g00000OPP01AAA",
    ]
    reasons = sorted(r.headers[DLQ_REASON].decode().split(":")[0] for r in letters)
    assert reasons == ["currency", "deleted"]
    again = await read_topic(kafka_bootstrap, names.deal_events, timeout_s=10)
    assert len(again) == 3  # exactly once: nothing more arrived
    metrics = (await client.get("/metrics")).text
    assert (
        'salespulse_ingest_crm_items_skipped_total{reason="association_change",vendor="hubspot"}'
        in metrics
    )


async def test_a_delivery_retried_by_the_vendor_publishes_its_events_once_more_under_the_same_ids(
    ingests, kafka_bootstrap, topic_prefix
):
    names = TopicNames(topic_prefix)
    client = await ingests.start(**webhook_settings())
    body = orjson.dumps(fixture_json("hubspot_new_deal.json"))

    for _ in range(2):
        answer = await client.post(
            "/v1/webhooks/hubspot", content=body, headers=hubspot_headers(body, HUBSPOT_URL)
        )
        assert answer.status_code == 200, answer.text

    records = await read_topic(kafka_bootstrap, names.deal_events, expect=10, timeout_s=30)
    ids = [orjson.loads(r.value)["event_id"] for r in records]
    assert ids[:5] == ids[5:]  # the same facts under the same ids: the workers count them once


async def test_a_dead_letter_reinjected_after_the_rate_is_configured_counts(
    ingests, kafka_bootstrap, topic_prefix, tmp_path
):
    names = TopicNames(topic_prefix)
    client = await ingests.start(**webhook_settings())
    await post_mixed_deliveries(client)
    letters = await read_topic(kafka_bootstrap, names.dead_letters, expect=2, timeout_s=30)
    await read_topic(kafka_bootstrap, names.deal_events, expect=3, timeout_s=30)
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,rate\n2026-01-01,USD,0.9\n")
    await ingests.stop(client)
    rated = await ingests.start(**webhook_settings(currency_rates_file=str(rates)))

    currency = [
        dead_letter_of(r.partition, r.offset, 0, r.key, r.value, list(r.headers.items()))
        for r in letters
        if r.headers[DLQ_REASON].startswith(b"currency")
    ]
    outgoing, refused = reinjection(currency, names, names.dead_letters)
    publisher = EventPublisher([kafka_bootstrap], 10)
    try:
        await publisher.publish(outgoing)
    finally:
        await publisher.close()

    assert refused == {} and [o.topic for o in outgoing] == [names.crm_deliveries]
    records = await read_topic(kafka_bootstrap, names.deal_events, expect=4, timeout_s=30)
    usd = [orjson.loads(r.value) for r in records if b"hubspot-9100" in r.value]
    assert [(e["amount"], e["currency"]) for e in usd] == [(500, "USD")]
    assert (await rated.get("/readyz")).json()["crm"]["running"] is True


async def test_stopping_ingest_closes_the_http_client_of_every_configured_deal_source(ingests):
    api = {
        "hubspot_private_app_token": "pat-test",
        "hubspot_api_base_url": "http://127.0.0.1:9",
        "pipedrive_api_token": "pd-test",
        "pipedrive_api_base_url": "http://127.0.0.1:9",
    }
    client = await ingests.start(**webhook_settings(), **api)
    crm = ingests.apps[client].state.crm
    sources = dict(crm.sources)
    assert sorted(sources) == ["hubspot", "pipedrive"]
    assert not any(source.http.closed for source in sources.values())

    await ingests.stop(client)

    assert all(source.http.closed for source in sources.values())
    assert ingests.apps[client].state.crm is None
