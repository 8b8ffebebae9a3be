"""``salespulse dead-letters`` on a live stack: list, show, re-inject after a fix, purge."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from events.topics import TopicNames
from tests.support.cli import run_cli
from tests.support.kafka import produce_raw
from tests.support.kpis import eventually, fetch_kpis
from tests.support.native import cost_incurred, deal_created

pytestmark = pytest.mark.e2e

WITHOUT_USD = "date,currency,rate\n2026-02-01,GBP,1.17\n"
WITH_USD = WITHOUT_USD + "2026-02-01,USD,0.8\n"
AS_OF = "2026-02-14T12:00:00Z"


def kpis_are(stack, key: str, want: dict) -> list[str]:
    status, kpis = fetch_kpis(stack.workers[0].url, key, AS_OF)
    got = {name: kpis.get(name) for name in want} if status == 200 else kpis
    return [] if got == want else [f"{key}: {status} {got}"]


def test_a_dead_letter_reinjected_after_its_fix_counts_once_and_a_purge_empties_the_topic(
    make_rated_stack,
):
    stack, rates = make_rated_stack(WITHOUT_USD)
    names = TopicNames(stack.prefix)
    usd_cost = {**cost_incurred("usd-cost", "team-1"), "currency": "USD", "amount": 100}
    messages = [
        (names.deal_events, b"d-eur", orjson.dumps(deal_created("eur", "d-eur"))),
        (names.cost_events, b"team-1", orjson.dumps(usd_cost)),
        (names.deal_events, b"d-usd", orjson.dumps(deal_created("usd", "d-usd", currency="USD"))),
    ]
    asyncio.run(produce_raw(stack.bootstrap, messages))
    assert eventually(lambda: kpis_are(stack, "team|team-1|mtd", {"opportunities": 1})) == []

    listed = run_cli(stack, "dead-letters", "list", "--reason", "currency", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    letters = orjson.loads(listed.stdout)
    assert sorted(letter["event_id"] for letter in letters) == ["usd", "usd-cost"]
    assert {letter["source"] for letter in letters} == {names.deal_events, names.cost_events}
    summary = run_cli(stack, "dead-letters", "list", "--summary", "--format", "csv")
    assert summary.stdout.splitlines()[0] == "source,kind,count,first,last"
    shown = run_cli(stack, "dead-letters", "show", letters[0]["position"])
    assert orjson.loads(shown.stdout)[0]["reason"].startswith("currency: must be")

    rates.write_text(WITH_USD)  # the fix: a USD rate, picked up by the restarted worker
    stack.restart_worker(stack.workers[0])
    first = run_cli(stack, "dead-letters", "reinject", "--reason", "currency", "--yes")
    second = run_cli(stack, "dead-letters", "reinject", "--reason", "currency", "--yes")

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert first.stdout.strip() == "re-injected 2"
    want = {"opportunities": 2, "cost_marketing": 80.0}
    assert eventually(lambda: kpis_are(stack, "team|team-1|mtd", want)) == []

    purged = run_cli(stack, "dead-letters", "purge", "--all", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip().endswith("purged 2")
    after = run_cli(stack, "dead-letters", "list")
    assert after.returncode == 1
    assert "no dead letter matches" in after.stderr


def test_reinject_without_a_filter_or_all_is_a_usage_error():
    result = run_cli(None, "dead-letters", "reinject")
    assert result.returncode == 2
    assert "--all" in result.stderr
