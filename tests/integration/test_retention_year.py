"""A real worker folds 250 days of history at the default retention (design state-engine-v2 §8).

At the end its KPIs inside retention are exact (``projections.recompute`` over all 250 days,
open-deal stocks included: a deal created on the first day is still open), an as_of beyond the
horizon is refused, and its stored day values are bounded by keys x retention days (counted in
its RocksDB once it stopped), as are the call and cost ids it remembers. It keeps closed deals
for as long as retention (``SALESPULSE_CLOSED_DEAL_MEMORY_DAYS=100``): what it stores at the end
is every open deal and the deals won in the last 100 days, nothing older.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from events.models import EventPolicy, validate_event
from events.settings import Settings
from projections.recompute import recompute
from projections.timebase import BucketGrid
from streams.retention import APPLY_CLOCK_KEY
from streams.routing import partition_of
from streams.state.store import STATE_DIR, StateStore
from tests.support.kpis import eventually, fetch_kpis, kpi_mismatches
from tests.support.stack import StackFactory

pytestmark = pytest.mark.integration

DAYS = 250
RETENTION_DAYS = 100
PARTITIONS = 4
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


def at(day: int, hour: int = 0) -> str:
    moment = END - timedelta(days=DAYS - 1 - day) + timedelta(hours=hour)
    return moment.isoformat().replace("+00:00", "Z")


def year_of_events() -> list[dict]:
    """Calls every day by two reps, a deal every 10 days (every other one won), costs weekly,
    a deal open since the first day, and a call redelivered 240 days after it first arrived."""
    events: list[dict] = []
    for day in range(DAYS):
        for rep in ("rep-a", "rep-b"):
            events.append(_event(f"call-{rep}-{day}", "call.logged", at(day), rep_id=rep))
        if day % 10 == 0:
            deal = {"deal_id": f"d-{day}", "rep_id": "rep-a", "team_id": "team-1"}
            events.append(
                _event(
                    f"c-{day}",
                    "deal.created",
                    at(day),
                    customer_id=f"cu-{day}",
                    amount=100 + day,
                    channel="email",
                    probability=0.5,
                    **deal,
                )
            )
            if day % 20 == 0 and day > 0:
                events.append(
                    _event(
                        f"w-{day}",
                        "deal.won",
                        at(day + 3 if day < 240 else day, 1),
                        deal_id=f"d-{day}",
                    )
                )
        if day % 7 == 0:
            events.append(
                _event(
                    f"x-{day}",
                    "cost.incurred",
                    at(day),
                    amount=40,
                    category="marketing",
                    team_id="team-1",
                )
            )
    return [*events, dict(events[0])]


def _event(event_id: str, kind: str, occurred_at: str, **fields: object) -> dict:
    team = {"team_id": "team-1"} if kind == "call.logged" else {}
    return {"event_id": event_id, "type": kind, "occurred_at": occurred_at, **team, **fields}


def expected_kpis(events: list[dict], now: datetime) -> dict[str, dict]:
    policy = EventPolicy(clock=lambda: END + timedelta(days=1))
    store = recompute([validate_event(e, policy) for e in events], BucketGrid("UTC"))
    return store.report_all(now)


def differences(url: str, expected: dict[str, dict], as_of: str) -> list[str]:
    problems = []
    for key, want in expected.items():
        status, got = fetch_kpis(url, key, as_of)
        if status != 200:
            problems.append(f"{key}: HTTP {status} {got}")
        else:
            problems += [f"{key} {p}" for p in kpi_mismatches(got, want)]
    return problems


def stored(path, cf: str) -> list[bytes]:
    with StateStore(path) as store:
        return [key for p in range(PARTITIONS) for key, _ in store.scan(cf, p)]


def test_a_worker_folding_250_days_keeps_100_and_stays_exact(
    kafka_bootstrap, topic_prefix, tmp_path
):
    factory = StackFactory(lambda: kafka_bootstrap, topic_prefix, tmp_path)
    try:
        stack = factory.build(
            workers=1,
            partitions=PARTITIONS,
            table_store="rocksdb://",
            extra_env={"SALESPULSE_CLOSED_DEAL_MEMORY_DAYS": str(RETENTION_DAYS)},
        )
        events = year_of_events()
        with httpx.Client(base_url=stack.ingest.url, timeout=30) as client:
            assert client.post("/v1/events", json=events).status_code == 202
        as_of = at(DAYS - 1, 3)
        expected = expected_kpis(events, datetime.fromisoformat(as_of))
        worker = stack.workers[0]
        assert eventually(lambda: differences(worker.url, expected, as_of), timeout_s=120) == []
        assert expected["company||30d"]["open_deals"] >= 1
        forgotten = len({e["deal_id"] for e in events if "deal_id" in e} - deals_kept(events))
        metrics = httpx.get(f"{worker.url}/metrics", timeout=30).text
        assert f"salespulse_deals_forgotten_total {float(forgotten)}" in metrics
        old = fetch_kpis(worker.url, "company||7d", at(DAYS - 1 - 150))
        assert old[0] == 400 and "retention horizon" in old[1]["error"]["message"]
        worker.stop()
    finally:
        factory.stop_all()
    app_id = Settings(topic_prefix=stack.prefix).app_id
    path = stack.data_dir(0) / app_id / STATE_DIR
    days = stored(path, "days")
    scope_keys = {key[: key.index(b"\x00\x01")] for key in days}
    assert len(days) <= len(scope_keys) * (RETENTION_DAYS + 1)
    clock = APPLY_CLOCK_KEY.encode()
    assert len([key for key in stored(path, "day_ix") if key != clock]) == len(days)
    ids = [key for key in stored(path, "seen") if key.startswith(b"[")]
    assert len(ids) <= (RETENTION_DAYS + 1) * 2 + (RETENTION_DAYS // 7 + 1)
    assert {key.decode() for key in stored(path, "deals")} == deals_kept(events)


def deals_kept(events: list[dict]) -> set[str]:
    """The deals a memory of RETENTION_DAYS keeps at the end: the open ones, and those won on or
    after the horizon of their partition (its latest deal event's UTC day - RETENTION_DAYS)."""
    deal_events = [e for e in events if e["type"].startswith("deal.")]
    latest: dict[int, int] = {}
    for event in deal_events:
        part = partition_of(event["deal_id"], PARTITIONS)
        latest[part] = max(latest.get(part, 0), _day(event))
    won = {e["deal_id"]: _day(e) for e in deal_events if e["type"] == "deal.won"}
    return {
        e["deal_id"]
        for e in deal_events
        if e["deal_id"] not in won
        or won[e["deal_id"]] >= latest[partition_of(e["deal_id"], PARTITIONS)] - RETENTION_DAYS
    }


def _day(event: dict) -> int:
    return datetime.fromisoformat(event["occurred_at"]).toordinal()
