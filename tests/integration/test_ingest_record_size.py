"""Events Kafka can never store (over its per-message limit) are refused, never answered 503.

Before anything of a request is handed to the producer, every event is sized as a Kafka record
(key, value, headers, batch framing) against ``MAX_RECORD_BYTES``: one too large and the request
is a 422 naming it, with nothing published. Should a topic's own limit be lower, the broker's
refusal is still a 4xx: a retry could never succeed.
"""

from __future__ import annotations

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from events.publisher import MAX_RECORD_BYTES, Outgoing, record_size
from events.topics import TopicNames
from tests.support.crm import basic_auth, fixture_json, webhook_settings
from tests.support.crm_topics import read_published
from tests.support.native import call_logged, deal_created

pytestmark = pytest.mark.integration


def sized_deal(event_id: str, deal_id: str, names: TopicNames, record_bytes: int) -> dict:
    """A deal.created whose Kafka record is exactly ``record_bytes`` (padded by a ``note``)."""
    event = deal_created(event_id, deal_id, note="")

    def size(note: str) -> int:
        value = orjson.dumps({**event, "note": note})
        return record_size(Outgoing(names.deal_events, deal_id, value))

    padding = record_bytes - size("")
    note = "x" * padding
    # Varint lengths grow with the value: trim until the record is exactly the size wanted.
    while size(note) > record_bytes:
        note = note[:-1]
    assert size(note) == record_bytes
    return {**event, "note": note}


async def published(bootstrap: str, prefix: str) -> list[bytes]:
    """The event ids in the event topics. Ingest answers once the broker acknowledged what it
    published, and these apps publish nothing in the background: read to the end, no waiting."""
    records = await read_published(bootstrap, *TopicNames(prefix).event_topics)
    return sorted(orjson.loads(r.value)["event_id"] for r in records)


async def test_an_event_over_the_message_limit_is_a_422_naming_it_and_nothing_is_published(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest()
    names = TopicNames(topic_prefix)
    big = sized_deal("big", "deal-big", names, MAX_RECORD_BYTES + 1)

    refused = await client.post(
        "/v1/events", json=[call_logged("small-1"), deal_created("small-2"), big]
    )
    sentinel = await client.post("/v1/events", json=call_logged("sentinel"))

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_events"
    [entry] = error["invalid"]
    assert (entry["index"], entry["event_id"]) == (2, "big")
    assert entry["reasons"] == [
        f"event: {MAX_RECORD_BYTES + 1:,} bytes once encoded for Kafka, over the limit of "
        f"{MAX_RECORD_BYTES:,} bytes per message (a retry cannot succeed)"
    ]
    assert sentinel.status_code == 202
    assert await published(kafka_bootstrap, topic_prefix) == ["sentinel"]


async def test_an_event_of_exactly_the_message_limit_is_stored(
    make_ingest, kafka_bootstrap, topic_prefix
):
    client = await make_ingest()
    largest = sized_deal("largest", "deal-l", TopicNames(topic_prefix), MAX_RECORD_BYTES)

    response = await client.post("/v1/events", json=largest)

    assert response.status_code == 202, response.text
    assert await published(kafka_bootstrap, topic_prefix) == ["largest"]


async def test_a_webhook_delivery_too_large_to_store_is_refused_whole_with_413(
    make_ingest, kafka_bootstrap, topic_prefix
):
    """A delivery is stored as it came before anything is interpreted: one whose raw record
    passes the record limit cannot be stored, so the vendor gets a 4xx (never a 2xx for a
    delivery nobody will read, never a 503 it would retry for ever) and nothing is published."""
    client = await make_ingest(**webhook_settings())
    payload = fixture_json("pipedrive_v1_updated_lost.json")
    payload["current"]["lost_reason"] = "r" * (MAX_RECORD_BYTES + 1)

    refused = await client.post("/v1/webhooks/pipedrive", json=payload, headers=basic_auth())

    assert refused.status_code == 413, refused.text[:300]
    assert refused.json()["error"]["code"] == "too_large"
    assert await published(kafka_bootstrap, topic_prefix) == []
    deliveries = TopicNames(topic_prefix).crm_deliveries
    assert await read_published(kafka_bootstrap, deliveries) == []


async def test_a_topic_whose_own_limit_is_lower_gets_a_4xx_not_a_503(
    make_ingest, kafka_bootstrap, topic_prefix
):
    names = TopicNames(topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        topic = NewTopic(names.deal_events, 4, 1, topic_configs={"max.message.bytes": "4096"})
        await admin.create_topics([topic])
    finally:
        await admin.close()
    client = await make_ingest()  # creates the other topics; the deal topic keeps its limit

    refused = await client.post(
        "/v1/events", json=[call_logged("before"), deal_created("big", note="x" * 20_000)]
    )
    after = await client.post("/v1/events", json=[call_logged("after"), deal_created("fits")])

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "event_too_large"
    assert error["invalid"][0]["index"] == 1
    assert "events before it may be stored" in error["message"]
    assert after.status_code == 202, after.text
    assert "big" not in await published(kafka_bootstrap, topic_prefix)
