"""Inputs of the chaos scenarios that their yardstick test (tests/chaos/test_support.py) checks
without any process: the duplicate plan of scenario 2 and the poison messages of scenario 3.
"""

from __future__ import annotations

import random

import orjson

from events.topics import TopicNames

BLOCK = 250


def duplicated_plan(events: list[dict], rng: random.Random) -> list[tuple[str, list[dict]]]:
    """Segments (path, events): each event once through the API and once onto its topic, in a
    random order of the two, and a third time (half of them) by either path, one or two blocks
    later; so copies of an event arrive apart, by different paths, first copy by either."""
    blocks = [events[i : i + BLOCK] for i in range(0, len(events), BLOCK)]
    firsts, seconds, thirds = [], [], []
    for block in blocks:
        first = {"api": [], "topic": []}
        second = {"api": [], "topic": []}
        third = {"api": [], "topic": []}
        for event in block:
            a, b = rng.sample(["api", "topic"], 2)
            first[a].append(event)
            second[b].append(event)
            if rng.random() < 0.5:
                third[rng.choice(["api", "topic"])].append(event)
        firsts.append(first)
        seconds.append(second)
        thirds.append(third)
    plan: list[tuple[str, list[dict]]] = []
    for i in range(len(blocks) + 2):
        for lag, copies in enumerate((firsts, seconds, thirds)):
            j = i - lag
            if 0 <= j < len(blocks):
                for path in rng.sample(["api", "topic"], 2):
                    if copies[j][path]:
                        plan.append((path, copies[j][path]))
    return plan


ONE_MB = 1_000_000
AT = "2026-03-20T10:00:00Z"


def _one_mb_json(event: dict, field: str) -> bytes:
    """``event`` as JSON of exactly 1 MB, padded in ``field`` (invalid: far too long)."""
    bare = len(orjson.dumps({**event, field: ""}))
    return orjson.dumps({**event, field: "x" * (ONE_MB - bare)})


def poison_for(names: TopicNames) -> list[tuple[str, str, bytes | None, bytes, str]]:
    """(kind, topic, key, value, a fragment the dead letter's reason must contain)."""
    deal = {
        "event_id": "poison-deal",
        "type": "deal.created",
        "occurred_at": AT,
        "deal_id": "poison-deal-1",
        "rep_id": "rep-1",
        "team_id": "team-0",
        "customer_id": "poison-customer",
        "amount": 100.0,
    }
    call = {
        "event_id": "poison-call",
        "type": "call.logged",
        "occurred_at": AT,
        "rep_id": "rep-2",
        "team_id": "team-0",
    }
    cost = {
        "event_id": "poison-cost",
        "type": "cost.incurred",
        "occurred_at": AT,
        "category": "marketing",
        "amount": 50.0,
        "team_id": "team-1",
    }
    out = []
    for name, topic, event, key, missing, mistyped in (
        ("deal", names.deal_events, deal, "poison-deal-1", "customer_id", ("amount", "1200.5")),
        ("call", names.call_events, call, "rep-2", "rep_id", ("team_id", 7)),
        ("cost", names.cost_events, cost, "team-1", "category", ("amount", True)),
    ):
        k = key.encode()

        def variant(kind: str, body: dict, _name=name) -> dict:
            return {**body, "event_id": f"poison-{_name}-{kind}"}

        schema = {f: v for f, v in variant("schema", event).items() if f != missing}
        out += [
            (f"{name}/not-json", topic, k, b'{"event_id": "poison-' + k + b'", "type": ', "JSON"),
            (f"{name}/wrong-schema", topic, k, orjson.dumps(schema), missing),
            (
                f"{name}/wrong-types",
                topic,
                k,
                orjson.dumps({**variant("types", event), mistyped[0]: mistyped[1]}),
                mistyped[0],
            ),
            (f"{name}/1mb", topic, k, _one_mb_json(variant("1mb", event), "event_id"), "event_id"),
            (f"{name}/empty-key", topic, b"", orjson.dumps(variant("empty-key", event)), "key"),
        ]
    return out
