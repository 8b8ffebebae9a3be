"""Freshness: from POST /v1/events to the change being visible on the worker's /metrics.

Live traffic at ``rate`` events/s goes through the real ingest API in batches every ``TICK_S``;
each batch carries one probe, a call by a rep of its own (``probe-<n>``). A probe is visible once
``GET /v1/kpis`` for its rep answers: /metrics reads the very same bucket tables through the same
ownership check, but rendering every key on every poll would steal the worker's CPU (Prometheus
scrapes every 15 s, not 50 times a second). So the pending probes are polled on /v1/kpis every
20 ms, the time a /metrics scrape takes is measured on its own, and the figure reported is the
sum: a probe's delay from the start of its POST to its answer, plus the time of the first scrape
after the traffic (a worker reuses the report of keys nothing changed since its last scrape, so
that first one, with every key touched by the traffic, is the cost a real scrape pays under load;
the next ones are printed too).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
import orjson

from bench import infra
from bench.stats import Figure, format_ms, percentile
from bench.workload import Shape, history

RATE = 1000
TICK_S = 0.05
TARGET_P99_S = 1.0


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run(bootstrap: str, seconds: float, rate: int = RATE) -> list[Figure]:
    prefix = infra.new_prefix("freshness")
    await infra.create_topics(bootstrap, prefix)
    stack = infra.stack(bootstrap, prefix)
    worker = stack.start_worker()
    ingest = stack.start_ingest()
    per_tick = int(rate * TICK_S) - 1
    ticks = int(seconds / TICK_S)
    # Live traffic: events of the last day of a 1000-rep company, sent as they happen now.
    live = history(per_tick * ticks, datetime.now(UTC), Shape(days=1))
    posted: dict[int, float] = {}
    seen: dict[int, float] = {}
    failures = 0
    try:
        async with aiohttp.ClientSession() as session:
            stop = asyncio.Event()

            async def poller() -> None:
                while not stop.is_set():
                    for probe in sorted(set(posted) - set(seen))[:8]:
                        params = {"scope": "rep", "id": f"probe-{probe}", "window": "1h"}
                        async with session.get(f"{worker.url}/v1/kpis", params=params) as answer:
                            await answer.read()
                            if answer.status == 200:
                                seen[probe] = time.monotonic()
                    await asyncio.sleep(0.02)

            async def post(batch: list[dict], probe: int) -> None:
                nonlocal failures
                posted[probe] = time.monotonic()
                async with session.post(
                    f"{ingest.url}/v1/events",
                    data=orjson.dumps(batch),
                    headers={"Content-Type": "application/json"},
                ) as answer:
                    await answer.read()
                    failures += answer.status != 202

            polling = asyncio.create_task(poller())
            tasks, started = [], time.monotonic()
            for tick in range(ticks):
                await asyncio.sleep(max(0.0, started + tick * TICK_S - time.monotonic()))
                probe = {
                    "event_id": f"probe-{prefix}{tick}",
                    "type": "call.logged",
                    "occurred_at": _stamp(),
                    "rep_id": f"probe-{tick}",
                    "team_id": "probe",
                }
                batch = [*live[tick * per_tick : (tick + 1) * per_tick], probe]
                tasks.append(asyncio.create_task(post(batch, tick)))
            await asyncio.gather(*tasks)
            deadline = time.monotonic() + 30
            while len(seen) < ticks and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            stop.set()
            await polling
            scrapes = []
            for _ in range(5):
                t0 = time.monotonic()
                async with session.get(f"{worker.url}/metrics") as answer:
                    await answer.read()
                scrapes.append(time.monotonic() - t0)
    finally:
        stack.stop()
    scrape_s, cached_s = scrapes[0], percentile(scrapes[1:], 50)
    delays = [seen[p] - posted[p] + scrape_s for p in posted if p in seen]
    missing = ticks - len(delays)
    p50, p99 = percentile(delays, 50), percentile(delays, 99)
    print(
        f"freshness: {len(delays)} probes, p50 {format_ms(p50)}, p99 {format_ms(p99)}, "
        f"{missing} never seen, {failures} failed POSTs, /metrics scrape {format_ms(scrape_s)} "
        f"(then {format_ms(cached_s)} with nothing changed)"
    )
    return [
        Figure("freshness", f"POST → /metrics at {rate:,} events/s: p50", format_ms(p50)),
        Figure(
            "freshness",
            "/metrics scrape after the traffic, then unchanged",
            f"{format_ms(scrape_s)}, then {format_ms(cached_s)}",
        ),
        Figure(
            "freshness",
            f"POST → /metrics at {rate:,} events/s: p99",
            format_ms(p99),
            "≤ 1 s",
            p99 <= TARGET_P99_S and not missing and not failures,
        ),
        Figure(
            "freshness",
            "probes never visible (30 s after the last POST)",
            f"{missing} of {ticks}",
            "0",
            not missing,
        ),
    ]
