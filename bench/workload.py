"""Realistic native events for the benchmarks, at any size and cardinality.

Modelled on ``events.demo.DemoCompany`` (deals from created to won/lost with calls, the odd
re-assignment and reopen, marketing and sales costs) but with the number of reps, teams and
customers as parameters: the demo company has 20 reps, far fewer keys than a real tenant.
Arrival order is event-time order shuffled within runs of 40, as CRMs deliver it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime

from events.topics import COMPANY_KEY, TopicNames

CHANNELS = ("linkedin", "email", "inbound", "referral", "event")
HOUR = 3600
DAY = 86_400
EVENTS_PER_DEAL = 4.3
"""Average events a closed-or-open history deal yields (created, ~2.5 calls, outcome...)."""


@dataclass(frozen=True)
class Shape:
    """Cardinality of the generated company."""

    reps: int = 1000
    teams: int = 100
    customers: int = 20_000
    days: int = 100
    open_deals: int = 0
    """Deals created near the end and left open (each with one call), on top of the history."""


def _stamp(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


class _Generator:
    def __init__(self, shape: Shape, end_s: float, seed: int) -> None:
        self.shape, self.end_s, self.seed = shape, end_s, seed
        self.rng = random.Random(seed)
        self.out: list[tuple[float, dict]] = []
        self.deals = 0

    def emit(self, kind: str, at: float, **fields) -> None:
        if at > self.end_s:
            return
        event_id = f"b{self.seed}-{len(self.out)}"
        self.out.append(
            (
                at,
                {
                    "event_id": event_id,
                    "type": kind,
                    "occurred_at": _stamp(at),
                    "source": "bench",
                    **fields,
                },
            )
        )

    def rep(self) -> tuple[str, str]:
        rep = self.rng.randrange(self.shape.reps)
        return f"rep-{rep}", f"team-{rep % self.shape.teams}"

    def costs(self, start_s: float) -> None:
        for day in range(self.shape.days):
            midnight = start_s + day * DAY
            for channel in CHANNELS:
                amount = round(self.rng.uniform(80, 900), 2)
                self.emit(
                    "cost.incurred",
                    midnight + 9 * HOUR,
                    category="marketing",
                    channel=channel,
                    amount=amount,
                )
            if day % 7 == 0:
                for team in range(self.shape.teams):
                    amount = round(self.rng.uniform(150, 600), 2)
                    self.emit(
                        "cost.incurred",
                        midnight + 17 * HOUR,
                        category="sales",
                        team_id=f"team-{team}",
                        amount=amount,
                    )

    def deal(self, created: float, closes: bool) -> None:
        rng = self.rng
        self.deals += 1
        deal_id = f"d{self.seed}-{self.deals}"
        rep, team = self.rep()
        amount = round(rng.lognormvariate(8.2, 0.6), 2)
        self.emit(
            "deal.created",
            created,
            deal_id=deal_id,
            rep_id=rep,
            team_id=team,
            customer_id=f"cust-{rng.randrange(self.shape.customers)}",
            amount=amount,
            channel=rng.choice(CHANNELS),
        )
        for _ in range(rng.randint(1, 4) if closes else 1):
            self.emit(
                "call.logged",
                created + rng.uniform(0.5, 96) * HOUR,
                rep_id=rep,
                team_id=team,
                deal_id=deal_id,
                duration_s=rng.randint(60, 1800),
            )
        if not closes:
            return
        closed = created + rng.uniform(4, 240) * HOUR
        roll = rng.random()
        if roll < 0.08:
            other_rep, other_team = self.rep()
            self.emit(
                "deal.updated",
                closed - 2 * HOUR,
                deal_id=deal_id,
                rep_id=other_rep,
                team_id=other_team,
            )
        if roll < 0.42:
            final = round(amount * rng.uniform(0.85, 1.1), 2)
            self.emit("deal.won", closed, deal_id=deal_id, amount=final)
            if rng.random() < 0.04:
                self.emit("deal.reopened", closed + 20 * HOUR, deal_id=deal_id)
        elif roll < 0.72:
            self.emit(
                "deal.lost",
                closed,
                deal_id=deal_id,
                reason=rng.choice(("price", "timing", "competitor")),
            )


def history(events: int, end: datetime, shape: Shape = Shape(), seed: int = 1) -> list[dict]:
    """About ``events`` history events over ``shape.days`` days before ``end``, plus
    ``shape.open_deals`` open deals (two events each), in arrival order."""
    end_s = end.timestamp()
    start_s = end_s - shape.days * DAY
    gen = _Generator(shape, end_s, seed)
    gen.costs(start_s)
    span = shape.days * DAY - HOUR
    while len(gen.out) < events:
        gen.deal(start_s + gen.rng.uniform(0, span), closes=True)
    for _ in range(shape.open_deals):
        gen.deal(end_s - gen.rng.uniform(HOUR, min(span, 20 * DAY)), closes=False)
    gen.out.sort(key=lambda pair: pair[0])
    arrival = [event for _, event in gen.out]
    for start in range(0, len(arrival), 40):
        run = arrival[start : start + 40]
        gen.rng.shuffle(run)
        arrival[start : start + 40] = run
    return arrival


def route_of(event: dict, names: TopicNames) -> tuple[str, str]:
    """(topic, key) of a native event per contract section 7, as ``events.topics.route`` puts a
    validated one, without the cost of validating it."""
    kind = event["type"]
    if kind.startswith("deal."):
        return names.deal_events, event["deal_id"]
    if kind == "call.logged":
        return names.call_events, event["rep_id"]
    return names.cost_events, event.get("team_id") or COMPANY_KEY
