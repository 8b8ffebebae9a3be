"""POST /v1/events against the real broker: what is acknowledged is on the right topic and key."""

from __future__ import annotations

import json

import orjson
import pytest

from events.codec import encode_event
from events.topics import TopicNames
from tests.support.golden import golden_lines, is_invalid_golden_line
from tests.support.kafka import read_topic
from tests.support.native import call_logged, cost_incurred, deal_created

pytestmark = pytest.mark.integration


async def test_accepted_events_are_on_their_topic_with_their_key_byte_for_byte(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest()
    events = [
        deal_created("e1", "deal-a"),
        call_logged("e2", "rep-7"),
        cost_incurred("e3"),
        cost_incurred("e4", "team-2"),
        deal_created("e5", "deal-b", note="extra fields kept"),
    ]

    response = await client.post("/v1/events", json=events)

    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 5}
    names = TopicNames(topic_prefix)
    deals = await read_topic(kafka_bootstrap, names.deal_events, expect=2)
    calls = await read_topic(kafka_bootstrap, names.call_events, expect=1)
    costs = await read_topic(kafka_bootstrap, names.cost_events, expect=2)
    assert sorted((r.key, r.value) for r in deals) == sorted(
        [(b"deal-a", encode_event(events[0])), (b"deal-b", encode_event(events[4]))]
    )
    assert [(r.key, r.value) for r in calls] == [(b"rep-7", encode_event(events[1]))]
    assert sorted((r.key, r.value) for r in costs) == sorted(
        [(b"company", encode_event(events[2])), (b"team-2", encode_event(events[3]))]
    )
    assert orjson.loads(deals[0].value)["event_id"] in {"e1", "e5"}


async def test_every_valid_golden_event_lands_in_order_per_key(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest()
    valid = [json.loads(line) for line in golden_lines() if not is_invalid_golden_line(line)]
    for start in range(0, len(valid), 1000):
        response = await client.post("/v1/events", json=valid[start : start + 1000])
        assert response.status_code == 202, response.text

    names = TopicNames(topic_prefix)
    records = []
    for topic in names.event_topics:
        records += await read_topic(kafka_bootstrap, topic, expect=None, timeout_s=30)
    assert len(records) == len(valid) == 2346
    by_key: dict[tuple[str, bytes], list[bytes]] = {}
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        by_key.setdefault((record.topic, record.key), []).append(record.value)
    expected: dict[tuple[str, bytes], list[bytes]] = {}
    for event in valid:
        topic, key = _route(names, event)
        expected.setdefault((topic, key), []).append(encode_event(event))
    assert by_key == expected


def _route(names: TopicNames, event: dict) -> tuple[str, bytes]:
    if event["type"].startswith("deal."):
        return names.deal_events, event["deal_id"].encode()
    if event["type"] == "call.logged":
        return names.call_events, event["rep_id"].encode()
    return names.cost_events, (event.get("team_id") or "company").encode()


async def test_a_batch_with_one_invalid_event_is_refused_whole_and_publishes_nothing(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest()
    batch = [deal_created("ok-1"), {**deal_created("bad"), "amount": "12 EUR"}, call_logged("ok-2")]

    refused = await client.post("/v1/events", json=batch)
    sentinel = await client.post("/v1/events", json=deal_created("sentinel", "deal-s"))

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert [(i["index"], i["event_id"]) for i in error["invalid"]] == [(1, "bad")]
    assert error["invalid"][0]["reasons"] == ["amount: must be a number >= 0, not a string"]
    assert sentinel.status_code == 202
    names = TopicNames(topic_prefix)
    deals = await read_topic(kafka_bootstrap, names.deal_events, expect=None, timeout_s=10)
    calls = await read_topic(kafka_bootstrap, names.call_events, expect=None, timeout_s=5)
    assert [r.key for r in deals] == [b"deal-s"]
    assert calls == []


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic s3cret"}, 401),
        ({"Authorization": "Bearer s3cret"}, 202),
    ],
)
async def test_with_a_token_configured_only_the_right_bearer_may_post(make_ingest, headers, status):
    client = await make_ingest(ingest_token="s3cret")

    response = await client.post("/v1/events", json=call_logged("auth-1"), headers=headers)

    assert response.status_code == status, response.text
    if status == 401:
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'"a string"', 400, "invalid_body"),
        (b"[]", 422, "empty_batch"),
        (orjson.dumps([call_logged(f"c{i}") for i in range(1001)]), 413, "batch_too_large"),
    ],
)
async def test_malformed_bodies_get_a_clear_json_error(make_ingest, body, status, code):
    client = await make_ingest()

    response = await client.post(
        "/v1/events", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_a_body_over_the_size_limit_gets_413(make_ingest):
    client = await make_ingest(ingest_max_body_bytes=2048)

    response = await client.post("/v1/events", json=[call_logged(f"c{i}") for i in range(40)])

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


async def test_without_a_reachable_broker_ingest_answers_503_never_202(make_ingest):
    client = await make_ingest(kafka_bootstrap="127.0.0.1:1", ingest_ack_timeout_s=2)

    posted = await client.post("/v1/events", json=call_logged("lost-1"))
    ready = await client.get("/readyz")

    assert posted.status_code == 503
    assert posted.json()["error"]["code"] == "broker_unavailable"
    assert ready.status_code == 503


async def test_health_readiness_and_openapi_are_served(make_ingest):
    client = await make_ingest()

    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/events" in spec["paths"]
    assert "NativeEvent" in spec["components"]["schemas"]


async def test_ingest_metrics_count_answers_and_acknowledged_events(make_ingest):
    from prometheus_client.parser import text_string_to_metric_families

    client = await make_ingest()
    await client.post("/v1/events", json=[call_logged("m1"), call_logged("m2")])
    await client.post("/v1/events", json={**call_logged("m3"), "team_id": 7})

    text = (await client.get("/metrics")).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    assert samples[("salespulse_ingest_events_accepted_total", ())] == 2
    assert (
        samples[("salespulse_ingest_requests_total", (("path", "/v1/events"), ("status", "202")))]
        == 1
    )
    assert (
        samples[("salespulse_ingest_requests_total", (("path", "/v1/events"), ("status", "422")))]
        == 1
    )
    assert samples[("salespulse_ingest_broker_ack_seconds_count", ())] == 1
    assert any(name == "salespulse_build_info" for name, _ in samples)
