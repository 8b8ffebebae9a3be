"""POST /v1/events with conversion rates configured: rated currencies pass, others get a 422."""

from __future__ import annotations

import orjson
import pytest

from events.codec import encode_event
from events.topics import TopicNames
from tests.support.kafka import read_topic
from tests.support.native import cost_incurred, deal_created

pytestmark = pytest.mark.integration

RATES = "date,currency,rate\n2026-02-01,USD,0.92\n"


@pytest.fixture
def rates_file(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text(RATES)
    return path


async def test_an_event_in_a_rated_currency_is_published_as_sent(
    make_ingest, rates_file, kafka_bootstrap, topic_prefix
):
    client = await make_ingest(currency_rates_file=str(rates_file))
    event = deal_created("usd-1", "deal-usd", currency="USD")

    response = await client.post("/v1/events", json=[event])

    assert response.status_code == 202, response.text
    published = await read_topic(kafka_bootstrap, TopicNames(topic_prefix).deal_events, expect=1)
    assert [record.value for record in published] == [encode_event(event)]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            {**cost_incurred("jpy-1"), "currency": "JPY"},
            "currency: must be the reporting currency EUR or one with a rate (USD), not 'JPY'",
        ),
        (
            deal_created("usd-old", "deal-old", currency="USD", occurred_at="2026-01-31T10:00:00Z"),
            "currency: USD has no rate on or before 2026-01-31 (its first rate is dated "
            "2026-02-01)",
        ),
    ],
)
async def test_an_event_without_a_rate_is_refused_with_422_and_nothing_is_published(
    make_ingest, rates_file, kafka_bootstrap, topic_prefix, event, reason
):
    client = await make_ingest(currency_rates_file=str(rates_file))
    good = deal_created("eur-1", "deal-eur")

    response = await client.post("/v1/events", json=[good, event])

    assert response.status_code == 422
    invalid = response.json()["error"]["invalid"]
    assert invalid == [{"index": 1, "event_id": event["event_id"], "reasons": [reason]}]
    names = TopicNames(topic_prefix)
    published = await read_topic(kafka_bootstrap, names.deal_events, timeout_s=4)
    assert [orjson.loads(r.value)["event_id"] for r in published] == []
