"""A deterministic demo company: native events of a few weeks of selling, and a live trickle.

Used by ``salespulse demo`` (and ``make run``) to show the product on realistic data: teams and
reps working deals from several acquisition channels, calls, marketing and sales costs, wins,
losses, re-assignments and the odd reopened deal. Same seed, same events.

Contract v2's customer types tell a story a sales manager recognises: many small customers (smb)
with small baskets, fewer mid-market ones, and a few enterprise deals worth ten times an smb one,
courted through events and referrals, whose marketing costs more per customer won. Each deal is
created with the probability of closing its channel usually has, and a re-assignment re-rates it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CHANNELS = ("linkedin", "email", "inbound", "referral", "event")
SEGMENTS = ("smb", "mid-market", "enterprise")
SEGMENT_AMOUNT_MU = {"smb": 7.6, "mid-market": 8.4, "enterprise": 9.4}
"""Log-normal mean of a deal's amount per customer type (e^7.6 ≈ 2,000; e^9.4 ≈ 12,000)."""
CHANNEL_PROBABILITY = {
    "linkedin": 0.2,
    "email": 0.15,
    "inbound": 0.35,
    "referral": 0.5,
    "event": 0.3,
}
"""Usual probability of closing at creation, per acquisition channel."""
CHANNEL_SEGMENT = {
    "linkedin": "enterprise",
    "email": "smb",
    "inbound": "smb",
    "referral": "mid-market",
    "event": "enterprise",
}
"""The customer type each channel's marketing campaigns target (costs carry it)."""
TEAMS = 4
REPS_PER_TEAM = 5


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def segment_of(customer: int) -> str:
    """A customer's type, fixed by its number: 60 % smb, 28 % mid-market, 12 % enterprise."""
    share = customer % 100
    return SEGMENTS[0] if share < 60 else SEGMENTS[1] if share < 88 else SEGMENTS[2]


def _probability(channel: str, jitter: float) -> float:
    """The channel's usual probability moved by ``jitter`` (-0.1..0.1), in steps of 0.05."""
    return round(min(0.95, max(0.05, CHANNEL_PROBABILITY[channel] + jitter)) * 20) / 20


@dataclass
class DemoCompany:
    """Generates events; ``now`` is the end of history (aware, UTC)."""

    now: datetime
    seed: int = 7
    events: list[dict] = field(default_factory=list)
    _deals: int = 0
    _emitted: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        # Ids are unique per run: a second demo run is a new company, not a rewrite of the first.
        self.run = f"{self.seed}-{int(self.now.timestamp()) // 60:x}"

    def _emit(self, kind: str, at: datetime, **fields) -> None:
        self._emitted += 1
        self.events.append(
            {
                "event_id": f"demo-{self.run}-{self._emitted:07d}",
                "type": kind,
                "occurred_at": _stamp(at),
                "source": "demo",
                **fields,
            }
        )

    def _rep(self) -> tuple[str, str]:
        team = self.rng.randrange(TEAMS)
        return f"rep-{team * REPS_PER_TEAM + self.rng.randrange(REPS_PER_TEAM)}", f"team-{team}"

    def backfill(self, days: int) -> list[dict]:
        """History of ``days`` days before ``now``, in event-time order."""
        start = (self.now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        for day in range(days):
            midnight = start + timedelta(days=day)
            self._costs(midnight)
            for _ in range(self.rng.randint(8, 16)):
                self._deal(midnight + timedelta(hours=self.rng.uniform(8, 18)))
        self.events = [e for e in self.events if e["occurred_at"] <= _stamp(self.now)]
        self.events.sort(key=lambda e: e["occurred_at"])
        return self.events

    def _costs(self, day: datetime) -> None:
        for channel in CHANNELS:
            self._emit(
                "cost.incurred",
                day + timedelta(hours=9),
                category="marketing",
                channel=channel,
                segment=CHANNEL_SEGMENT[channel],
                amount=round(self.rng.uniform(80, 900), 2),
            )
        for team in range(TEAMS):
            self._emit(
                "cost.incurred",
                day + timedelta(hours=17),
                category="sales",
                team_id=f"team-{team}",
                amount=round(self.rng.uniform(150, 600), 2),
            )

    def _deal(self, created: datetime) -> None:
        self._deals += 1
        deal_id = f"demo-deal-{self.run}-{self._deals:05d}"
        rep, team = self._rep()
        customer = self.rng.randrange(400)
        segment = segment_of(customer)
        channel = self.rng.choice(CHANNELS)
        amount = round(self.rng.lognormvariate(SEGMENT_AMOUNT_MU[segment], 0.6), 2)
        self._emit(
            "deal.created",
            created,
            deal_id=deal_id,
            rep_id=rep,
            team_id=team,
            customer_id=f"demo-cust-{self.run}-{customer}",
            amount=amount,
            channel=channel,
            segment=segment,
            probability=_probability(channel, self.rng.uniform(-0.1, 0.1)),
        )
        for _ in range(self.rng.randint(1, 6)):
            self._emit(
                "call.logged",
                created + timedelta(hours=self.rng.uniform(0.5, 96)),
                rep_id=rep,
                team_id=team,
                deal_id=deal_id,
                duration_s=self.rng.randint(60, 1800),
            )
        self._outcome(deal_id, created, amount)

    def _outcome(self, deal_id: str, created: datetime, amount: float) -> None:
        closed = created + timedelta(hours=self.rng.uniform(4, 240))
        roll = self.rng.random()
        if roll < 0.08:
            other_rep, other_team = self._rep()
            self._emit(
                "deal.updated",
                closed - timedelta(hours=2),
                deal_id=deal_id,
                rep_id=other_rep,
                team_id=other_team,
                probability=round(self.rng.uniform(0.1, 0.9), 2),
            )
        if roll < 0.42:
            final = round(amount * self.rng.uniform(0.85, 1.1), 2)
            self._emit("deal.won", closed, deal_id=deal_id, amount=final)
            if self.rng.random() < 0.04:
                self._emit("deal.reopened", closed + timedelta(hours=20), deal_id=deal_id)
        elif roll < 0.72:
            self._emit(
                "deal.lost",
                closed,
                deal_id=deal_id,
                reason=self.rng.choice(("price", "timing", "competitor")),
            )

    def live(self, at: datetime, count: int) -> list[dict]:
        """``count`` fresh events at ``at``: new opportunities, calls, the odd quick win."""
        fresh_from = len(self.events)
        for _ in range(count):
            rep, team = self._rep()
            if self.rng.random() < 0.6:
                self._emit(
                    "call.logged",
                    at,
                    rep_id=rep,
                    team_id=team,
                    duration_s=self.rng.randint(60, 900),
                )
                continue
            self._deals += 1
            deal_id = f"demo-deal-{self.run}-{self._deals:05d}"
            customer = self.rng.randrange(400, 500)
            channel = self.rng.choice(CHANNELS)
            self._emit(
                "deal.created",
                at,
                deal_id=deal_id,
                rep_id=rep,
                team_id=team,
                customer_id=f"demo-cust-{self.run}-{customer}",
                amount=round(self.rng.uniform(500, 9000), 2),
                channel=channel,
                segment=segment_of(customer),
                probability=_probability(channel, 0.0),
            )
            if self.rng.random() < 0.3:
                self._emit("deal.won", at, deal_id=deal_id)
        return self.events[fresh_from:]
