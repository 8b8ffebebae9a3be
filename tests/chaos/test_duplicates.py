"""Scenario 2: every event is delivered two or three times, through the API and straight onto the
topics, the copies arriving at different moments; each must count exactly once."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from events.topics import TopicNames
from tests.chaos.audit import settled_audit
from tests.chaos.feed import deliver_segments
from tests.chaos.history import CHAOS_AS_OF, routed, size_history, validated
from tests.chaos.observe import settle
from tests.support.chaos_inputs import duplicated_plan

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]


def test_every_event_delivered_two_or_three_times_by_api_and_topic_counts_once(chaos_stack, size):
    seed = 202
    rng = random.Random(seed)
    events = size_history(size(3_000, 20_000), seed=seed)
    stack = chaos_stack(workers=1)
    names = TopicNames(stack.prefix)
    plan = duplicated_plan(events, rng)
    arrivals = [event for _, segment in plan for event in segment]

    started = time.monotonic()
    asyncio.run(
        deliver_segments(stack.ingest.url, stack.bootstrap, plan, lambda evs: routed(evs, names))
    )
    sent_s = time.monotonic() - started
    settled = settle(stack, timeout_s=size(120, 300))

    by_api = sum(len(s) for path, s in plan if path == "api")
    result = settled_audit(
        "2 duplicates by api+topic",
        stack.workers[0].url,
        validated(arrivals),
        CHAOS_AS_OF,
        deliveries=len(arrivals),
        facts={
            "via_api": by_api,
            "via_topic": len(arrivals) - by_api,
            "sent_s": round(sent_s, 1),
            "settled_s": round(settled.seconds, 1),
        },
    )

    assert settled.quiet, settled.describe()
    assert result.accepted == len(events)
    assert 2 * len(events) < len(arrivals) < 3 * len(events)
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
