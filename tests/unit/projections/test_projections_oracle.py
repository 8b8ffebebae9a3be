"""Property: ``recompute`` + ``report`` equal a naive reading of contract sections 2-4.

The oracle below shares no code with the product: it folds native event objects with datetimes,
computes window bounds by calendar arithmetic and counts facts inside ``[start, end)``. Streams
and ``now`` are drawn around month, quarter and DST changes, in zones with odd offsets.
"""

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.factories import event_streams, store_of

BASE = datetime(2026, 2, 20, tzinfo=UTC)
EDGES = [
    "2026-03-01T00:00:00Z", "2026-02-28T23:00:00Z", "2026-03-01T05:00:00Z",
    "2026-03-31T22:00:00Z", "2026-03-31T18:30:00Z", "2026-04-01T04:00:00Z",
    "2026-04-01T00:00:00Z", "2026-03-31T23:59:59.999999Z", "2026-03-31T21:59:59Z",
]  # fmt: skip
INSTANTS = [(BASE + timedelta(minutes=457 * i)).isoformat() for i in range(130)] + EDGES
NOWS = st.sampled_from(EDGES) | st.integers(0, 42 * 24 * 4).map(
    lambda q: (BASE + timedelta(minutes=15 * q, seconds=7)).isoformat()
)
ZONES = st.sampled_from(["UTC", "Europe/Paris", "Asia/Kolkata", "America/New_York"])
WINDOWS = ("1h", "24h", "7d", "30d", "mtd", "qtd")
DEAL_ATTRS = ("rep_id", "team_id", "customer_id", "amount", "channel", "segment", "probability")
ALL = {"revenue", "opportunities", "deals_won", "deals_lost", "active_reps", "customers",
       "new_customers", "pipeline_created", "open_deals", "open_pipeline",
       "weighted_pipeline"}  # fmt: skip
EXTRA = {
    "rep": {"calls"},
    "team": {"calls", "cost_marketing", "cost_sales"},
    "company": {"calls", "cost_marketing", "cost_sales"},
    "channel": {"cost_marketing", "cost_sales"},
    "segment": {"cost_marketing", "cost_sales"},
}
COMMON_RATIOS = {"conversion_ratio", "win_ratio", "revenue_per_rep", "average_basket",
                 "average_deal_size", "time_to_win_seconds"}  # fmt: skip
RATIOS = {
    "rep": COMMON_RATIOS | {"calls_per_opportunity", "calls_per_rep"},
    "team": COMMON_RATIOS | {"calls_per_opportunity", "calls_per_rep", "cac"},
    "company": COMMON_RATIOS | {"calls_per_opportunity", "calls_per_rep", "cac"},
    "channel": COMMON_RATIOS | {"cac"},
    "segment": COMMON_RATIOS | {"cac"},
}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def bounds(window: str, now: datetime, zone: str) -> tuple[datetime, datetime]:
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    rolling = {
        "1h": (hour, hour + timedelta(hours=1)),
        "24h": (hour - timedelta(hours=23), hour + timedelta(hours=1)),
        "7d": (day - timedelta(days=6), day + timedelta(days=1)),
        "30d": (day - timedelta(days=29), day + timedelta(days=1)),
    }
    if window in rolling:
        return rolling[window]
    tz, local = ZoneInfo(zone), now.astimezone(ZoneInfo(zone))
    months = 1 if window == "mtd" else 3
    first = local.month if months == 1 else 3 * ((local.month - 1) // 3) + 1
    carry, end_month = divmod(first - 1 + months, 12)
    return datetime(local.year, first, 1, tzinfo=tz), datetime(
        local.year + carry, end_month + 1, 1, tzinfo=tz
    )


def facts_of(objects: list[dict]) -> dict[str, list[tuple]]:
    """scope key -> (kind, at, rep, value) facts, per contract section 2."""
    seen, deals, facts = set(), defaultdict(list), defaultdict(list)
    for position, obj in enumerate(objects):
        if obj["event_id"] in seen:
            continue
        seen.add(obj["event_id"])
        at = when(obj["occurred_at"])
        if obj["type"].startswith("deal."):
            deals[obj["deal_id"]].append((at, position, obj))
        elif obj["type"] == "call.logged":
            for key in (f"rep|{obj['rep_id']}", f"team|{obj['team_id']}", "company|"):
                facts[key].append(("call", at, obj["rep_id"], None))
        else:
            keys = ["company|"]
            if "team_id" in obj:
                keys.append(f"team|{obj['team_id']}")
            if "channel" in obj:
                keys.append(f"channel|{obj['channel']}")
            if obj.get("segment"):
                keys.append(f"segment|{obj['segment']}")
            for key in keys:
                facts[key].append((f"cost_{obj['category']}", at, None, obj["amount"]))
    acquired: dict[str, tuple] = {}
    for deal_id, events in deals.items():
        attrs, status, created, won, lost = {}, "open", None, None, None
        for at, _, obj in sorted(events, key=lambda e: (e[0], e[1])):
            attrs.update({name: obj[name] for name in DEAL_ATTRS if name in obj})
            kind = obj["type"]
            if kind == "deal.created":
                created = at
            elif kind == "deal.won":
                status, won = "won", at
            elif kind == "deal.lost":
                status, lost = "lost", at
            elif kind == "deal.reopened":
                status, won, lost = "open", None, None
        rep, team, channel = attrs.get("rep_id"), attrs.get("team_id"), attrs.get("channel")
        if not (rep and team):
            continue
        keys = [f"rep|{rep}", f"team|{team}", "company|"]
        if channel:
            keys.append(f"channel|{channel}")
        if attrs.get("segment"):
            keys.append(f"segment|{attrs['segment']}")
        customer, amount = attrs.get("customer_id"), attrs.get("amount") or 0
        closed = won if status == "won" else lost if status == "lost" else None
        for key in keys:
            if created is not None:
                facts[key].append(("opportunity", created, rep, amount))
                stock = (closed, amount, attrs.get("probability") or 0)
                facts[key].append(("open", created, None, stock))
            if status == "won":
                facts[key].append(("won", won, rep, (amount, customer, created)))
            if status == "lost":
                facts[key].append(("lost", lost, rep, None))
        if status == "won" and customer:
            candidate = (won, deal_id, keys)
            if customer not in acquired or candidate[:2] < acquired[customer][:2]:
                acquired[customer] = candidate
    for won, _, keys in acquired.values():
        for key in keys:
            facts[key].append(("new_customer", won, None, None))
    return facts


def open_at(facts: list[tuple], end: datetime) -> dict[str, float]:
    """Section 2.6: deals created before T and not closed before T (T = ``end``)."""
    deals = [
        f[3] for f in facts if f[0] == "open" and f[1] < end and not (f[3][0] and f[3][0] < end)
    ]
    return {
        "open_deals": len(deals),
        "open_pipeline": sum(amount for _, amount, _ in deals),
        "weighted_pipeline": sum(amount * probability for _, amount, probability in deals),
    }


def kpis_of(scope: str, facts: list[tuple], stock: dict[str, float]) -> dict[str, float]:
    count = lambda kind: sum(1 for f in facts if f[0] == kind)  # noqa: E731
    wins = [f[3] for f in facts if f[0] == "won"]
    ages = [(won[1] - won_created).total_seconds() for won, (_, _, won_created) in
            ((f, f[3]) for f in facts if f[0] == "won") if won_created is not None]  # fmt: skip
    k = {
        **stock,
        "pipeline_created": sum(f[3] for f in facts if f[0] == "opportunity"),
        "revenue": sum(amount for amount, _, _ in wins),
        "opportunities": count("opportunity"),
        "deals_won": len(wins),
        "deals_lost": count("lost"),
        "active_reps": len({f[2] for f in facts if f[2] is not None}),
        "customers": len({customer for _, customer, _ in wins if customer}),
        "new_customers": count("new_customer"),
        "calls": count("call"),
        "cost_marketing": sum(f[3] for f in facts if f[0] == "cost_marketing"),
        "cost_sales": sum(f[3] for f in facts if f[0] == "cost_sales"),
    }
    ratios = {
        "conversion_ratio": (k["deals_won"], k["opportunities"]),
        "win_ratio": (k["deals_won"], k["deals_won"] + k["deals_lost"]),
        "revenue_per_rep": (k["revenue"], k["active_reps"]),
        "average_basket": (k["revenue"], k["customers"]),
        "calls_per_opportunity": (k["calls"], k["opportunities"]),
        "calls_per_rep": (k["calls"], k["active_reps"]),
        "cac": (k["cost_marketing"] + k["cost_sales"], k["new_customers"]),
        "average_deal_size": (k["revenue"], k["deals_won"]),
        "time_to_win_seconds": (sum(max(0.0, age) for age in ages), len(ages)),
    }
    out = {name: value for name, value in k.items() if name in ALL | EXTRA[scope]}
    for name in RATIOS[scope]:
        numerator, denominator = ratios[name]
        if denominator:
            out[name] = numerator / denominator
    return out


def oracle(objects: list[dict], zone: str, now: datetime) -> dict[str, dict]:
    out = {}
    for key, facts in facts_of(objects).items():
        per_window = {}
        for window in WINDOWS:
            start, end = bounds(window, now, zone)
            per_window[window] = [f for f in facts if start <= f[1] < end and f[0] != "open"]
        stock = open_at(facts, bounds("1h", now, zone)[1])
        if any(per_window.values()) or stock["open_deals"]:
            for window, inside in per_window.items():
                out[f"{key}|{window}"] = kpis_of(key.split("|")[0], inside, stock)
    return out


def close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[n], b[n], rel_tol=1e-9) for n in a)


@settings(max_examples=300, deadline=None, database=None)
@given(stream=event_streams(INSTANTS, max_size=40), zone=ZONES, now=NOWS)
def test_report_equals_a_naive_reading_of_the_contract(stream, zone, now):
    store = store_of(stream, zone)
    at = when(now)
    got = {
        f"{key}|{window}": kpis
        for key in sorted(store.keys())
        for window, kpis in (store.report(key, at) or {}).items()
    }
    expected = oracle(stream, zone, at)
    assert got.keys() == expected.keys()
    mismatches = [key for key in got if not close(got[key], expected[key])]
    assert mismatches == [], {key: (got[key], expected[key]) for key in mismatches[:3]}
