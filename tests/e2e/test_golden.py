"""The golden data through the whole stack: every expected KPI, exactly, from /v1/kpis."""

from __future__ import annotations

import asyncio
import math

import pytest

from events.topics import DLQ_REASON, DLQ_SOURCE_OFFSET, DLQ_SOURCE_PARTITION, DLQ_SOURCE_TOPIC
from tests.support.golden import (
    golden_expected,
    golden_lines,
    golden_messages,
    golden_v2_expected,
    golden_v2_lines,
    is_invalid_golden_line,
    post_golden_through_api,
)
from tests.support.kafka import produce_raw, read_topic, topics_under
from tests.support.kpis import compare_all, eventually, scrape_kpi_series

pytestmark = pytest.mark.e2e


@pytest.mark.stack(workers=1)
def test_golden_events_posted_through_the_api_give_every_expected_kpi(own_stack):
    stack = own_stack
    expected = golden_expected()

    refused = post_golden_through_api(stack.ingest.url)

    assert refused == 8
    assert len(expected["kpis"]) == 180
    problems = eventually(
        lambda: compare_all(stack.workers[0].url, expected["kpis"], expected["as_of"])
    )
    assert problems == []
    # The state is checkpointed locally: no changelog topic; the internal topics between agents
    # are kept forever, the snapshots' topic is compacted.
    topics = asyncio.run(topics_under(stack.bootstrap, stack.prefix))
    internal = {name.rsplit(".", 1)[1]: name for name in topics if ".salespulse." in name}
    assert set(internal) == {"customer-wins", "kpi-deltas", "state"}
    assert len(topics) == 5 + len(internal), sorted(topics)  # 3 event topics, DLQ, CRM deliveries
    between_agents = [internal["customer-wins"], internal["kpi-deltas"]]
    assert all(topics[name].get("retention.ms") == "-1" for name in between_agents), topics
    assert topics[internal["state"]].get("cleanup.policy") == "compact", topics


@pytest.mark.stack(workers=1, ingest=False)
def test_golden_lines_produced_straight_onto_the_topics_give_the_same_kpis(own_stack):
    from events.topics import TopicNames

    stack = own_stack
    names = TopicNames(stack.prefix)
    lines = golden_lines()
    messages = golden_messages(names)

    asyncio.run(produce_raw(stack.bootstrap, messages))

    expected = golden_expected()
    problems = eventually(
        lambda: compare_all(stack.workers[0].url, expected["kpis"], expected["as_of"])
    )
    assert problems == []
    dead = asyncio.run(read_topic(stack.bootstrap, names.dead_letters, expect=8))
    invalid = {line.encode() for line in lines if is_invalid_golden_line(line)}
    assert len(dead) == 8
    assert {record.value for record in dead} == invalid
    for record in dead:
        assert record.headers[DLQ_REASON].decode().strip()
        assert record.headers[DLQ_SOURCE_TOPIC].decode() in names.event_topics
        assert int(record.headers[DLQ_SOURCE_PARTITION]) >= 0
        assert int(record.headers[DLQ_SOURCE_OFFSET]) >= 0


@pytest.mark.parametrize(
    "workers", [pytest.param(n, marks=pytest.mark.stack(workers=n)) for n in (1, 2)]
)
def test_golden_v2_through_the_api_gives_every_v2_kpi_from_any_worker(own_stack, workers):
    """Contract v2 whole: segments, probabilities and open deals, with 1 and 2 workers (each
    answers every key, forwarding to the owner; every name of the file is compared)."""
    stack = own_stack
    assert len(stack.workers) == workers
    expected = golden_v2_expected()

    refused = post_golden_through_api(stack.ingest.url, golden_v2_lines())

    assert refused == expected["skipped_invalid"] == 11
    for worker in stack.workers:
        problems = eventually(
            lambda url=worker.url: compare_all(url, expected["kpis"], expected["as_of"])
        )
        assert problems == [], problems[:10]
    assert_metrics_carry_the_open_deals_of(stack, expected)


STOCKS = ("open_deals", "open_pipeline", "weighted_pipeline")


def assert_metrics_carry_the_open_deals_of(stack, expected: dict) -> None:
    """/metrics reads at the scrape's wall clock, months after the file's as_of: every window is
    empty then, so exactly the keys with a deal still open are exported (contract section 4),
    each by one worker, with the file's stock values under every window (no event of the file
    falls after its as_of's hour) and zero flows."""
    exported = [scrape_kpi_series(worker.url) for worker in stack.workers]
    keys_of = [{f"{s[1]}|{s[2]}" for s in series} for series in exported]
    still_open = {
        key.rsplit("|", 1)[0]
        for key, kpis in expected["kpis"].items()
        if key.endswith("|1h") and kpis["open_deals"]
    }
    assert set().union(*keys_of) == still_open
    assert sum(len(keys) for keys in keys_of) == len(still_open)
    values = {s: v for series in exported for s, v in series.items()}
    for (name, scope, scope_id, window), value in values.items():
        want = expected["kpis"][f"{scope}|{scope_id}|1h"]
        if name in STOCKS:
            assert math.isclose(value, want[name], rel_tol=1e-9), (name, scope, scope_id, window)
        elif name in ("revenue", "opportunities", "calls", "pipeline_created"):
            assert value == 0, (name, scope, scope_id, window)
