"""``salespulse demo``: drive a running stack with the demo company and show what it computed.

Everything goes through the public surfaces a user has (POST /v1/events, GET /v1/kpis), and the
KPIs read back are checked against a from-scratch recomputation of the same events.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from events.demo import TEAMS, DemoCompany
from events.models import validate_event
from events.policy import event_policy
from projections.query import render_instant
from projections.recompute import recompute
from projections.timebase import BucketGrid

T = TypeVar("T")
POLL_INTERVAL_S = 0.5

SHOWN = (
    "revenue",
    "opportunities",
    "deals_won",
    "conversion_ratio",
    "win_ratio",
    "revenue_per_rep",
    "calls_per_opportunity",
    "average_basket",
    "cac",
    "average_deal_size",
    "time_to_win_seconds",
    "open_pipeline",
    "weighted_pipeline",
)


def run_demo(
    settings, ingest_url: str, worker_url: str, days: int, live_seconds: float, seed: int
) -> int:
    console = Console()
    ingest = httpx.Client(base_url=ingest_url, timeout=30, headers=_auth(settings))
    worker = httpx.Client(base_url=worker_url, timeout=30)
    for name, client in (("ingest", ingest), ("worker", worker)):
        if not _wait_ready(client, timeout_s=90):
            console.print(f"[red]{name} at {client.base_url} is not ready[/]; is the stack up?")
            return 2
    fresh = worker.get("/v1/kpis", params={"scope": "company", "window": "30d"}).status_code == 404
    company = DemoCompany(now=datetime.now(UTC), seed=seed)
    history = company.backfill(days)
    console.print(f"[bold]Backfilling {len(history)} events[/] ({days} days of a demo company)")
    with Progress(console=console) as progress:
        task = progress.add_task("POST /v1/events", total=len(history))
        for start in range(0, len(history), 1000):
            _post(ingest, history[start : start + 1000])
            progress.advance(task, min(1000, len(history) - start))
    deadline = time.monotonic() + live_seconds
    console.print(f"[bold]Live trickle[/] for {live_seconds:.0f}s")
    while time.monotonic() < deadline:
        _post(ingest, company.live(datetime.now(UTC), 5))
        time.sleep(0.5)
    as_of = datetime.now(UTC)
    expected = _recomputed(company.events, settings, as_of)
    keys = ["company|"] + [f"team|team-{t}" for t in range(TEAMS)]
    observed = _await_exact(worker, keys, expected, as_of, timeout_s=60)
    _print_summary(console, observed, as_of)
    exact = all(_same(observed[key], expected[f"{key}|30d"]) for key in keys)
    if not fresh:
        exact = True
        console.print(
            "[yellow]The stack already held events[/], so these KPIs include them and "
            "were not checked against a recomputation ('make clean' starts empty)."
        )
    else:
        console.print(
            ("[green]exact:[/] " if exact else "[red]NOT exact:[/] ")
            + "worker KPIs vs a from-scratch recomputation of the same events"
        )
    console.print(
        f"\nMetrics:  {worker_url}/metrics\n"
        f"KPIs:     {worker_url}/v1/kpis?scope=team&id=team-1&window=30d\n"
        f"Ingest:   {ingest_url}/docs\nStop:     make down"
    )
    return 0 if exact else 1


def _auth(settings) -> dict[str, str]:
    token = settings.ingest_token
    return {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}


def _wait_ready(client: httpx.Client, timeout_s: float) -> bool:
    return _poll(lambda: _ready(client), timeout_s, until=bool)


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def _poll(probe: Callable[[], T], timeout_s: float, until: Callable[[T], bool]) -> T:
    """``probe()`` every half second until ``until`` holds or ``timeout_s`` is up; its last
    value either way: the demo reports a stack that never got there, it does not crash."""
    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_fixed(POLL_INTERVAL_S),
        retry=retry_if_result(lambda value: not until(value)),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    return retrying(probe)


def _post(client: httpx.Client, events: list[dict]) -> None:
    response = client.post("/v1/events", json=events)
    if response.status_code != 202:
        raise SystemExit(f"ingest refused the demo events: {response.status_code} {response.text}")


def _recomputed(events: list[dict], settings, as_of: datetime) -> dict:
    policy = event_policy(settings, clock=lambda: as_of)
    grid = BucketGrid(settings.time_zone)
    store = recompute([validate_event(e, policy) for e in events], grid, policy.rates)
    return store.report_all(as_of)


def _await_exact(worker: httpx.Client, keys, expected, as_of, timeout_s: float) -> dict:
    """Poll until the worker has caught up (its 30d KPIs equal the recomputation) or time is up."""
    return _poll(
        lambda: {key: _kpis(worker, key, as_of) for key in keys},
        timeout_s,
        until=lambda observed: all(_same(observed[k], expected.get(f"{k}|30d", {})) for k in keys),
    )


def _kpis(worker: httpx.Client, key: str, as_of: datetime) -> dict:
    scope, _, scope_id = key.partition("|")
    response = worker.get(
        "/v1/kpis",
        params={"scope": scope, "id": scope_id, "window": "30d", "as_of": render_instant(as_of)},
    )
    return response.json().get("kpis", {}) if response.status_code == 200 else {}


def _same(got: dict, want: dict) -> bool:
    return set(got) == set(want) and all(math.isclose(got[k], want[k], rel_tol=1e-9) for k in want)


def _print_summary(console: Console, observed: dict, as_of: datetime) -> None:
    table = Table(title=f"KPIs over 30 days, as of {render_instant(as_of)}")
    table.add_column("KPI")
    for key in observed:
        table.add_column(key.partition("|")[2] or "company", justify="right")
    for name in SHOWN:
        table.add_row(name, *(_fmt(kpis.get(name)) for kpis in observed.values()))
    console.print(table)


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if isinstance(value, int) or value >= 1000 else f"{value:.2f}"
