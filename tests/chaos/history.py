"""Event streams for chaos scenarios: a realistic company history in a fixed past period.

Event times lie in a fixed period ending at ``CHAOS_AS_OF`` (well in the past), so every window
read ``as_of`` that instant is deterministic whatever the wall clock. Several demo companies (one
per seed) share the same reps and teams, which makes the stream as dense as a size asks for;
arrival order is event-time order with local disorder, as CRMs deliver it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson

from events.codec import encode_event
from events.demo import DemoCompany
from events.models import EventPolicy, validate_event
from events.topics import TopicNames, route

CHAOS_AS_OF = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
"""End of every fixed history, and the ``as_of`` of every comparison."""

EVENTS_PER_COMPANY_DAY = 70
"""About what one ``DemoCompany`` emits per day of backfill (deals, calls, costs)."""

POLICY = EventPolicy()


def company_history(
    events: int, days: int = 120, now: datetime = CHAOS_AS_OF, seed: int = 1
) -> list[dict]:
    """About ``events`` native events over ``days`` days before ``now``, in arrival order.

    As many companies as the size needs (at least one), merged and sorted by event time, then
    shuffled within runs of 40 events: a deal's events can arrive out of order.
    """
    companies = max(1, round(events / (EVENTS_PER_COMPANY_DAY * days)))
    merged: list[dict] = []
    for offset in range(companies):
        merged += DemoCompany(now=now, seed=seed + offset).backfill(days)
    merged.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
    rng = random.Random(seed)
    for start in range(0, len(merged), 40):
        run = merged[start : start + 40]
        rng.shuffle(run)
        merged[start : start + 40] = run
    return merged


def size_history(events: int, now: datetime = CHAOS_AS_OF, seed: int = 1) -> list[dict]:
    """A history of about ``events`` events: 120 days when that is dense enough, fewer if not."""
    days = max(35, min(120, events // EVENTS_PER_COMPANY_DAY))
    return company_history(events, days=days, now=now, seed=seed)


def validated(events: list[dict]) -> list:
    """The typed events (they are all valid) in the same order, for ``recompute``."""
    return [validate_event(e, POLICY) for e in events]


def routed(events: list[dict], names: TopicNames) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of each event exactly as ingest publishes it (contract section 7)."""
    out = []
    for event in events:
        topic, key = route(validate_event(event, POLICY), names)
        out.append((topic, key.encode(), encode_event(event)))
    return out


def event_id_of(value: bytes | None) -> str | None:
    """The ``event_id`` of a record value read back from a topic, if it has one."""
    try:
        decoded = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    return decoded.get("event_id") if isinstance(decoded, dict) else None
