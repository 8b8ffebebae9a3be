"""CRM webhooks against the real broker: what is acknowledged is stored, what is refused is not.

Each refusal test posts a sentinel delivery afterwards and then reads the deal topic: only the
sentinel's events may be there, which proves the refused delivery published nothing. The topic is
read whole once the interpreter has committed every delivery stored so far (``deal_records``):
it interprets them in order and commits one only after what it published for it is acknowledged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events.ingest_api import create_ingest_app
from events.settings import Settings
from events.topics import DLQ_REASON, TopicNames
from tests.support.crm import (
    SALESFORCE_ORG,
    SALESFORCE_PATH,
    SALESFORCE_TOKEN,
    basic_auth,
    fixture_bytes,
    fixture_json,
    hubspot_headers,
    now_ms,
    soap_notifications,
    webhook_settings,
)
from tests.support.crm_ingest import running_ingests
from tests.support.crm_topics import interpreted, read_published
from tests.support.kafka import create_event_topics, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture
async def make_ingest(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Callable]:
    """Ingest apps with their delivery interpreter running: webhooks publish through it."""
    async with running_ingests(kafka_bootstrap, topic_prefix) as started:
        yield started.start


HUBSPOT_URL = "http://ingest/v1/webhooks/hubspot"
SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


async def deal_records(bootstrap: str, prefix: str, expect: int | None = None):
    """The deal topic: until ``expect`` records are in; without ``expect``, all of it once the
    interpreter is done with every delivery stored so far (all it published for them is then
    acknowledged), so what a test posted before can no longer add to it."""
    topic = TopicNames(prefix).deal_events
    if expect is None:
        await interpreted(bootstrap, prefix)
        records = await read_published(bootstrap, topic)
    else:
        records = await read_topic(bootstrap, topic, expect=expect, timeout_s=15)
    return sorted(records, key=lambda r: (r.partition, r.offset))


async def post_hubspot(client, payload, **signing):
    body = orjson.dumps(payload)
    headers = hubspot_headers(body, signing.pop("uri", HUBSPOT_URL), **signing)
    return await client.post("/v1/webhooks/hubspot", content=body, headers=headers)


async def test_a_signed_hubspot_delivery_is_stored_and_its_retry_gives_the_same_events(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest(**webhook_settings())
    payload = fixture_json("hubspot_new_deal.json")

    first = await post_hubspot(client, payload)
    for event in payload:
        event["attemptNumber"] = 1
    retry = await post_hubspot(client, payload)

    assert first.status_code == 200, first.text
    assert first.json()["items"] == retry.json()["items"] == 5
    assert first.json()["delivery_id"] != retry.json()["delivery_id"]
    records = await deal_records(kafka_bootstrap, topic_prefix, expect=10)
    assert {r.key for r in records} == {b"hubspot-9001"}
    values = [r.value for r in records]
    assert values[:5] == values[5:]  # byte-identical: the workers drop the retry by event_id
    assert orjson.loads(values[0])["type"] == "deal.created"


@pytest.mark.parametrize(
    ("signing", "code"),
    [
        ({"secret": "not-the-app-secret"}, "bad_signature"),
        ({"timestamp_ms": now_ms() - 6 * 60 * 1000}, "stale_timestamp"),
        ({"uri": "http://ingest/v1/webhooks/other"}, "bad_signature"),
    ],
)
async def test_unauthenticated_or_stale_hubspot_deliveries_are_refused_and_not_published(
    make_ingest, kafka_bootstrap, topic_prefix, signing, code
):
    client = await make_ingest(**webhook_settings())

    refused = await post_hubspot(client, fixture_json("hubspot_new_deal.json"), **signing)
    sentinel = await post_hubspot(client, fixture_json("hubspot_generic_objects.json"))

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == code
    assert sentinel.status_code == 200
    records = await deal_records(kafka_bootstrap, topic_prefix)
    assert [r.key for r in records] == [b"hubspot-9002"]


async def test_a_hubspot_body_altered_after_signing_is_refused(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest(**webhook_settings())
    body = orjson.dumps(fixture_json("hubspot_deal_won.json"))
    headers = hubspot_headers(body, HUBSPOT_URL)

    response = await client.post(
        "/v1/webhooks/hubspot", content=body.replace(b"closedwon", b"closedlost"), headers=headers
    )

    assert response.status_code == 401
    assert await deal_records(kafka_bootstrap, topic_prefix) == []


async def test_behind_a_proxy_hubspot_signs_the_public_url(make_ingest):
    public = "https://kpis.example.com/crm"
    client = await make_ingest(**webhook_settings(webhook_public_url=public))
    payload = fixture_json("hubspot_deal_won.json")

    internal = await post_hubspot(client, payload)
    external = await post_hubspot(client, payload, uri=f"{public}/v1/webhooks/hubspot")

    assert internal.status_code == 401
    assert external.status_code == 200, external.text


async def test_legacy_hubspot_signatures_need_configuration(make_ingest):
    from events.crm.hubspot_signature import signature_v2

    body = orjson.dumps(fixture_json("hubspot_deal_won.json"))
    headers = {
        "X-HubSpot-Signature-Version": "v2",
        "X-HubSpot-Signature": signature_v2(
            webhook_settings()["hubspot_client_secret"], "POST", HUBSPOT_URL, body
        ),
    }
    default = await make_ingest(**webhook_settings())
    legacy = await make_ingest(**webhook_settings(hubspot_signature_versions="v3,v2"))

    assert (
        await default.post("/v1/webhooks/hubspot", content=body, headers=headers)
    ).status_code == 401
    assert (
        await legacy.post("/v1/webhooks/hubspot", content=body, headers=headers)
    ).status_code == 200


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/v1/webhooks/hubspot", {"content": b"[]"}),
        ("/v1/webhooks/pipedrive", {"json": {}, "headers": basic_auth()}),
        ("/v1/webhooks/salesforce", {"content": b"<x/>"}),
    ],
)
async def test_an_unconfigured_vendor_has_no_endpoint(make_ingest, path, kwargs):
    client = await make_ingest()

    response = await client.post(path, **kwargs)

    assert response.status_code == 404


async def test_a_pipedrive_webhook_with_basic_auth_is_stored_and_its_retry_is_identical(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest(**webhook_settings())
    payload = fixture_json("pipedrive_v2_won.json")

    first = await client.post("/v1/webhooks/pipedrive", json=payload, headers=basic_auth())
    payload["meta"]["attempt"] = 2
    retry = await client.post("/v1/webhooks/pipedrive", json=payload, headers=basic_auth())

    assert first.json()["items"] == retry.json()["items"] == 1
    records = await deal_records(kafka_bootstrap, topic_prefix, expect=4)
    assert [r.value for r in records[:2]] == [r.value for r in records[2:]]
    assert [orjson.loads(r.value)["type"] for r in records[:2]] == ["deal.updated", "deal.won"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, None, 401, "unauthorized"),
        (basic_auth(password="wrong"), None, 401, "unauthorized"),
        (basic_auth(user="someone"), None, 401, "unauthorized"),
        ({"Authorization": "Basic !!!"}, None, 401, "unauthorized"),
        ({"Authorization": "Bearer pipe-s3cret"}, None, 401, "unauthorized"),
        (basic_auth(), b"{not json", 400, "invalid_json"),
        (basic_auth(), b"[1, 2]", 422, "invalid_payload"),
    ],
)
async def test_bad_pipedrive_deliveries_are_refused_and_not_published(
    make_ingest, kafka_bootstrap, topic_prefix, headers, body, status, code
):
    client = await make_ingest(**webhook_settings())
    content = body if body is not None else orjson.dumps(fixture_json("pipedrive_v2_won.json"))

    refused = await client.post("/v1/webhooks/pipedrive", content=content, headers=headers)
    sentinel = await client.post(
        "/v1/webhooks/pipedrive",
        json=fixture_json("pipedrive_v1_updated_lost.json"),
        headers=basic_auth(),
    )

    assert (refused.status_code, refused.json()["error"]["code"]) == (status, code)
    if status == 401:
        assert refused.headers["www-authenticate"].startswith("Basic")
    assert sentinel.status_code == 200
    records = await deal_records(kafka_bootstrap, topic_prefix)
    assert {r.key for r in records} == {b"pipedrive-78"}


async def dead_letter_reasons(bootstrap: str, prefix: str, expect: int) -> list[str]:
    records = await read_topic(
        bootstrap, TopicNames(prefix).dead_letters, expect=expect, timeout_s=30
    )
    return [r.headers[DLQ_REASON].decode() for r in records]


async def test_a_webhook_mapping_to_an_invalid_native_event_is_acknowledged_and_dead_lettered(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest(**webhook_settings())
    payload = fixture_json("pipedrive_v2_won.json")
    payload["data"]["currency"] = "USD"  # no rate configured: the contract refuses it

    response = await client.post("/v1/webhooks/pipedrive", json=payload, headers=basic_auth())

    assert response.status_code == 200, response.text
    [reason] = await dead_letter_reasons(kafka_bootstrap, topic_prefix, expect=1)
    assert reason.startswith("currency: must be")
    assert await deal_records(kafka_bootstrap, topic_prefix) == []
    empty = {**payload, "meta": {"version": "2.0"}}  # a webhook without its event: dead letter too
    assert (
        await client.post("/v1/webhooks/pipedrive", json=empty, headers=basic_auth())
    ).status_code == 200
    assert len(await dead_letter_reasons(kafka_bootstrap, topic_prefix, expect=2)) == 2


async def test_a_salesforce_message_is_acknowledged_once_stored_and_a_retry_is_identical(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest(**webhook_settings())
    body = fixture_bytes("salesforce_opportunity_won.xml")

    first = await client.post(SALESFORCE_PATH, content=body, headers=SOAP)
    retry = await client.post(SALESFORCE_PATH, content=body, headers=SOAP)

    assert first.status_code == retry.status_code == 200
    assert first.headers["content-type"].startswith("text/xml")
    assert b"<Ack>true</Ack>" in first.content
    records = await deal_records(kafka_bootstrap, topic_prefix, expect=10)
    by_key: dict[bytes, list[bytes]] = {}
    for record in records:
        by_key.setdefault(record.key, []).append(record.value)
    assert set(by_key) == {b"salesforce-0065g00000OPP01AAA", b"salesforce-0065g00000OPP02AAA"}
    for values in by_key.values():
        half = len(values) // 2
        assert values[:half] == values[half:]


OPEN = {"Id": "0065g00000OPP09AAA", "StageName": "Prospecting", "IsClosed": "false"}
TOKEN = "?token=sf-token"


@pytest.mark.parametrize(
    ("body", "query", "status", "code"),
    [
        (
            soap_notifications("00D000000000001AAA", [("04l1", OPEN)]),
            TOKEN,
            403,
            "wrong_organization",
        ),
        (
            b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
            TOKEN,
            400,
            "invalid_xml",
        ),
        (b"<x/>", TOKEN, 422, "invalid_payload"),
        (soap_notifications(SALESFORCE_ORG, [("04l1", OPEN)]), "?token=wrong", 401, "unauthorized"),
        (soap_notifications(SALESFORCE_ORG, [("04l1", OPEN)]), "", 401, "unauthorized"),
    ],
)
async def test_bad_salesforce_messages_get_a_soap_fault_and_publish_nothing(
    make_ingest, kafka_bootstrap, topic_prefix, body, query, status, code
):
    client = await make_ingest(**webhook_settings(salesforce_token="sf-token"))

    refused = await client.post(f"/v1/webhooks/salesforce{query}", content=body, headers=SOAP)
    sentinel = await client.post(
        "/v1/webhooks/salesforce?token=sf-token",
        content=soap_notifications(
            SALESFORCE_ORG, [("04lS", {**OPEN, "Id": "0065SENTINEL", "Amount": "5"})]
        ),
        headers=SOAP,
    )

    assert refused.status_code == status
    assert b"<faultcode>soapenv:Client</faultcode>" in refused.content
    assert code.encode() in refused.content
    assert sentinel.status_code == 200, sentinel.text
    records = await deal_records(kafka_bootstrap, topic_prefix)
    assert {r.key for r in records} == {b"salesforce-0065SENTINEL"}


async def test_without_a_broker_webhooks_answer_503_never_2xx(make_ingest):
    client = await make_ingest(
        **webhook_settings(kafka_bootstrap="127.0.0.1:1", ingest_ack_timeout_s=2)
    )

    hubspot = await post_hubspot(client, fixture_json("hubspot_deal_won.json"))
    salesforce = await client.post(
        SALESFORCE_PATH, content=fixture_bytes("salesforce_opportunity_won.xml")
    )

    assert hubspot.status_code == 503
    assert hubspot.json()["error"]["code"] == "broker_unavailable"
    assert salesforce.status_code == 503
    assert b"<faultcode>soapenv:Server</faultcode>" in salesforce.content


async def test_refusals_are_counted_by_vendor_and_reason(make_ingest):
    client = await make_ingest(**webhook_settings())
    await post_hubspot(client, fixture_json("hubspot_deal_won.json"), secret="wrong")
    await post_hubspot(client, fixture_json("hubspot_deal_won.json"), secret="wrong")
    await client.post("/v1/webhooks/pipedrive", json={}, headers={})
    await client.post(SALESFORCE_PATH, content=b"<nope")
    await post_hubspot(client, fixture_json("hubspot_deal_won.json"))

    text = (await client.get("/metrics")).text
    samples = {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "salespulse_ingest_webhook_refusals_total"
    }

    assert samples == {
        (("reason", "bad_signature"), ("vendor", "hubspot")): 2,
        (("reason", "unauthorized"), ("vendor", "pipedrive")): 1,
        (("reason", "invalid_xml"), ("vendor", "salesforce")): 1,
    }


async def test_the_webhooks_are_in_the_openapi_spec(make_ingest):
    client = await make_ingest()

    paths = (await client.get("/openapi.json")).json()["paths"]

    assert {"/v1/webhooks/hubspot", "/v1/webhooks/pipedrive", "/v1/webhooks/salesforce"} <= set(
        paths
    )


async def test_a_salesforce_notification_in_an_unrated_currency_is_acked_and_dead_lettered(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest(**webhook_settings())
    body = soap_notifications(
        SALESFORCE_ORG, [("04lC", {**OPEN, "Amount": "10", "CurrencyIsoCode": "USD"})]
    )

    response = await client.post(SALESFORCE_PATH, content=body, headers=SOAP)

    assert response.status_code == 200
    assert b"<Ack>true</Ack>" in response.content
    [reason] = await dead_letter_reasons(kafka_bootstrap, topic_prefix, expect=1)
    assert reason.startswith("currency: must be the reporting currency EUR")
    assert await deal_records(kafka_bootstrap, topic_prefix) == []


@pytest.mark.parametrize(
    "query",
    ["", "?token=", "?token=wrong", f"?token={SALESFORCE_TOKEN}x", f"?Token={SALESFORCE_TOKEN}"],
    ids=["no-token", "empty-token", "wrong-token", "longer-token", "other-parameter"],
)
async def test_a_forged_message_with_the_right_org_id_but_no_token_is_refused_and_publishes_nothing(
    make_ingest, kafka_bootstrap, topic_prefix, query
):
    client = await make_ingest(**webhook_settings())
    forged = soap_notifications(SALESFORCE_ORG, [("04lF", {**OPEN, "Amount": "9"})])

    refused = await client.post(f"/v1/webhooks/salesforce{query}", content=forged, headers=SOAP)
    sentinel = await client.post(
        SALESFORCE_PATH,
        content=soap_notifications(
            SALESFORCE_ORG, [("04lS", {**OPEN, "Id": "0065SENTINEL", "Amount": "5"})]
        ),
        headers=SOAP,
    )

    assert refused.status_code == 401
    assert b"<Ack>" not in refused.content
    assert b"unauthorized" in refused.content
    assert sentinel.status_code == 200, sentinel.text
    records = await deal_records(kafka_bootstrap, topic_prefix)
    assert {r.key for r in records} == {b"salesforce-0065SENTINEL"}


async def test_an_org_id_without_a_token_opens_no_endpoint_even_past_the_settings_check(
    kafka_bootstrap, topic_prefix
):
    await create_event_topics(kafka_bootstrap, topic_prefix)
    checked = Settings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, **webhook_settings()
    )
    org_only = checked.model_copy(update={"salesforce_token": None})  # no validation on a copy
    app = create_ingest_app(org_only)
    body = soap_notifications(SALESFORCE_ORG, [("04lO", {**OPEN, "Amount": "9"})])
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as client:
            for path in ("/v1/webhooks/salesforce", "/v1/webhooks/salesforce?token="):
                response = await client.post(path, content=body, headers=SOAP)
                assert response.status_code == 404, path
                assert b"not_configured" in response.content
    finally:
        await app.state.publisher.close()
    assert await deal_records(kafka_bootstrap, topic_prefix) == []


@pytest.mark.parametrize("amount", ["1e300000", "1e1000000", "-1e99999999"])
async def test_an_amount_with_a_huge_exponent_is_a_dead_letter_with_its_reason(
    make_ingest, kafka_bootstrap, topic_prefix, amount
):
    client = await make_ingest(**webhook_settings())
    body = soap_notifications(SALESFORCE_ORG, [("04lH", {**OPEN, "Amount": amount})])

    response = await client.post(SALESFORCE_PATH, content=body, headers=SOAP)

    assert response.status_code == 200
    [reason] = await dead_letter_reasons(kafka_bootstrap, topic_prefix, expect=1)
    assert f"Amount: amount '{amount}' is out of range" in reason
    assert await deal_records(kafka_bootstrap, topic_prefix) == []
