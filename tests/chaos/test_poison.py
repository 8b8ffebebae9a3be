"""Scenario 3: poison on every event topic, scattered through a valid stream. Each poison message
goes to the dead-letter topic with its reason and origin, the worker keeps going (same process),
and every valid event still counts exactly."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from events.topics import (
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    TopicNames,
)
from tests.chaos.audit import settled_audit
from tests.chaos.feed import produce_now
from tests.chaos.history import CHAOS_AS_OF, routed, size_history, validated
from tests.chaos.observe import metric_total, settle
from tests.support.chaos_inputs import poison_for
from tests.support.kafka import read_topic

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]


def test_poison_on_every_topic_is_dead_lettered_with_reasons_and_nothing_else_is_lost(
    chaos_stack, size
):
    seed = 303
    rng = random.Random(seed)
    events = size_history(size(3_000, 15_000), seed=seed)
    stack = chaos_stack(workers=1, ingest=False)
    worker = stack.workers[0]
    names = TopicNames(stack.prefix)
    poison = poison_for(names)
    assert len(poison) == 15

    records = routed(events, names)
    for _, topic, key, value, _ in poison:
        records.insert(rng.randrange(len(records) + 1), (topic, key, value))
    started = time.monotonic()
    produce_now(stack.bootstrap, records)
    settled = settle(stack, timeout_s=size(120, 300))

    dead = asyncio.run(read_topic(stack.bootstrap, names.dead_letters, timeout_s=60))
    result = settled_audit(
        "3 poison on every topic",
        worker.url,
        validated(events),
        CHAOS_AS_OF,
        facts={
            "poison": len(poison),
            "dead_letters": len(dead),
            "settled_s": round(time.monotonic() - started, 1),
            "worker": "alive" if worker.alive else "DIED",
            "agent_crashes": worker.log_path.read_text(errors="replace").count("Crashed reason="),
        },
    )

    assert worker.alive, f"the worker died:\n{worker.log_tail()}"
    assert settled.quiet, settled.describe()
    problems = []
    by_value = {(r.headers.get(DLQ_SOURCE_TOPIC, b"").decode(), r.value): r for r in dead}
    for kind, topic, key, value, fragment in poison:
        letter = by_value.get((topic, value))
        if letter is None:
            problems.append(f"{kind}: no dead letter")
            continue
        reason = letter.headers.get(DLQ_REASON, b"").decode()
        if fragment not in reason:
            problems.append(f"{kind}: reason {reason[:120]!r} does not mention {fragment!r}")
        if letter.key != key:
            problems.append(f"{kind}: dead letter key {letter.key!r}, sent {key!r}")
        if not letter.headers.get(DLQ_SOURCE_PARTITION) or not letter.headers.get(
            DLQ_SOURCE_OFFSET
        ):
            problems.append(f"{kind}: no source partition/offset headers")
    assert problems == [], problems
    assert len(dead) == len(poison), "only the poison is dead-lettered, once each"
    assert metric_total(worker.url, "salespulse_dead_letters_total") == len(poison)
    assert (result.lost, result.double_counted) == (0, 0), result.summary()
    assert result.exact, result.summary()
