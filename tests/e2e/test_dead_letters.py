"""Input a worker cannot accept goes to the dead-letter topic with its reason; work goes on."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events.topics import DLQ_REASON, DLQ_SOURCE_TOPIC, TopicNames
from tests.support.kafka import produce_raw, read_topic
from tests.support.kpis import eventually, fetch_kpis
from tests.support.native import call_logged, deal_created

pytestmark = pytest.mark.e2e


def created(event_id: str, deal_id: str) -> bytes:
    return orjson.dumps(deal_created(event_id, deal_id))


def dead_letter_counts(url: str) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (s.labels["topic"], s.labels["reason"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "salespulse_dead_letters_total"
    }


def test_poison_and_misplaced_events_are_dead_lettered_and_the_rest_still_counts(make_stack):
    stack = make_stack(workers=1, ingest=False)
    names = TopicNames(stack.prefix)
    call = orjson.dumps(call_logged("c-1"))
    poison = [
        (names.deal_events, b"d-x", b"\xff\xfe not utf-8"),
        (names.deal_events, b"d-x", b"{not json"),
        (names.deal_events, b"wrong-key", created("e-wrong-key", "d-2")),
        (names.deal_events, b"r-1", call),
        (names.call_events, None, b"[]"),
    ]
    good = [(names.deal_events, b"d-1", created("e-good", "d-1"))]

    asyncio.run(produce_raw(stack.bootstrap, poison + good))

    def counted() -> list[str]:
        status, kpis = fetch_kpis(stack.workers[0].url, "team|team-1|mtd", "2026-02-14T12:00:00Z")
        return [] if status == 200 and kpis["opportunities"] == 1 else [f"{status} {kpis}"]

    assert eventually(counted) == []
    dead = asyncio.run(read_topic(stack.bootstrap, names.dead_letters, expect=len(poison)))
    reasons = {record.value: record.headers[DLQ_REASON].decode() for record in dead}
    assert set(reasons) == {value for _, _, value in poison}
    assert "UTF-8" in reasons[poison[0][2]]
    assert "JSON" in reasons[poison[1][2]]
    assert reasons[created("e-wrong-key", "d-2")].startswith("key: must be 'd-2'")
    assert "does not belong on topic" in reasons[call]
    assert "JSON object" in reasons[b"[]"]
    counted_by_reason = dead_letter_counts(stack.workers[0].url)
    assert counted_by_reason[(names.cost_events, "amount")] == 0.0  # known labels start at 0
    assert {key: count for key, count in counted_by_reason.items() if count} == {
        (names.deal_events, "value"): 2,
        (names.deal_events, "key"): 1,
        (names.deal_events, "type"): 1,
        (names.call_events, "event"): 1,
    }
    assert {record.headers[DLQ_SOURCE_TOPIC].decode() for record in dead} == {
        names.deal_events,
        names.call_events,
    }
