"""Workers with conversion rates: foreign amounts count converted, unrated ones dead-lettered."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from events.topics import DLQ_REASON, TopicNames
from tests.support.kafka import produce_raw, read_topic
from tests.support.kpis import eventually, fetch_kpis
from tests.support.native import cost_incurred, deal_created

pytestmark = pytest.mark.e2e

RATES = "date,currency,rate\n2026-02-01,USD,0.92\n2026-02-10,USD,0.9\n"


def test_a_worker_converts_amounts_by_the_days_rate_and_dead_letters_unrated_ones(
    make_rated_stack,
):
    stack, _ = make_rated_stack(RATES)
    names = TopicNames(stack.prefix)
    usd_deal = deal_created("usd", "d-usd", amount=1000, currency="USD")  # 2026-02-14: 0.9
    usd_won = {
        "event_id": "usd-won",
        "type": "deal.won",
        "occurred_at": "2026-02-14T11:00:00Z",
        "deal_id": "d-usd",
    }
    old_usd_cost = {**cost_incurred("usd-cost"), "currency": "USD", "amount": 50}
    old_usd_cost["occurred_at"] = "2026-02-09T09:00:00+00:00"  # 0.92
    jpy_cost = {**cost_incurred("jpy-cost"), "currency": "JPY"}
    messages = [
        (names.deal_events, b"d-usd", orjson.dumps(usd_deal)),
        (names.deal_events, b"d-usd", orjson.dumps(usd_won)),
        (names.cost_events, b"company", orjson.dumps(old_usd_cost)),
        (names.cost_events, b"company", orjson.dumps(jpy_cost)),
    ]

    asyncio.run(produce_raw(stack.bootstrap, messages))

    def converted() -> list[str]:
        status, kpis = fetch_kpis(stack.workers[0].url, "company||30d", "2026-02-14T12:00:00Z")
        want = {"revenue": 900.0, "cost_marketing": 46.0}
        got = {name: kpis.get(name) for name in want} if status == 200 else kpis
        return [] if got == want else [f"{status} {got}"]

    assert eventually(converted) == []
    dead = asyncio.run(read_topic(stack.bootstrap, names.dead_letters, expect=1))
    assert [record.value for record in dead] == [orjson.dumps(jpy_cost)]
    assert dead[0].headers[DLQ_REASON].decode() == (
        "currency: must be the reporting currency EUR or one with a rate (USD), not 'JPY'"
    )
