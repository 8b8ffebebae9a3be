"""Ingest: POST /v1/events throughput (batches of 1000, single events) and latency at a fixed
rate, each against a trivial endpoint on the same server stack (``bench.trivial_server``).

The real ``salespulse ingest`` process validates every event and answers 202 only once the broker
acknowledged all of them (acks=all); the trivial app reads the body and answers 202. Clients run in
this process (``bench.load``) on the same 2 CPUs as the server and the broker.
"""

from __future__ import annotations

import orjson

from bench import infra
from bench.load import closed_loop, open_loop, start_trivial
from bench.pipeline import history_end
from bench.stats import Figure, format_ms, format_rate, format_ratio, percentile, rate, ratio
from bench.workload import Shape, history

BATCH = 1000
FIXED_RATE = 500
TARGET_BATCHED = 20_000
TARGET_P99_S = 0.050


async def run(bootstrap: str, seconds: float) -> list[Figure]:
    prefix = infra.new_prefix("ingest")
    await infra.create_topics(bootstrap, prefix)
    events = history(20_000, history_end(), Shape())
    batches = [
        orjson.dumps(events[i : i + BATCH]) for i in range(0, len(events) - BATCH + 1, BATCH)
    ]
    singles = [orjson.dumps(event) for event in events]
    stack = infra.stack(bootstrap, prefix)
    ingest = stack.start_ingest()
    trivial = start_trivial(infra.run_dir(prefix))
    servers = {"ingest": ingest.url, "trivial": trivial.url}
    figures = []
    try:
        batched = {}
        for name, url in servers.items():
            result = await closed_loop(f"{url}/v1/events", batches, 4, seconds)
            batched[name] = rate(result.requests * BATCH, result.seconds)
            print(f"ingest: {name} batched {format_rate(batched[name])} events {result.statuses}")
        single = {}
        for name, url in servers.items():
            result = await closed_loop(f"{url}/v1/events", singles, 32, seconds)
            single[name] = rate(result.requests, result.seconds)
            print(f"ingest: {name} single {format_rate(single[name])} requests {result.statuses}")
        latency = {}
        for name, url in servers.items():
            times, failures = await open_loop(f"{url}/v1/events", singles, FIXED_RATE, seconds)
            latency[name] = (percentile(times, 50), percentile(times, 99), failures)
            print(
                f"ingest: {name} at {FIXED_RATE} req/s p50 {format_ms(latency[name][0])} "
                f"p99 {format_ms(latency[name][1])} failures {failures}"
            )
    finally:
        trivial.stop()
        stack.stop()
    p50, p99, failures = latency["ingest"]
    t50, t99, _ = latency["trivial"]
    figures += [
        Figure(
            "ingest",
            "batched (1000/POST), events/s",
            format_rate(batched["ingest"]),
            "≥ 20,000/s",
            batched["ingest"] >= TARGET_BATCHED,
        ),
        Figure("ingest", "trivial endpoint, same bodies", format_rate(batched["trivial"])),
        Figure(
            "ingest",
            "batched: ingest / trivial",
            format_ratio(ratio(batched["ingest"], batched["trivial"])),
        ),
        Figure("ingest", "single event POST, requests/s", format_rate(single["ingest"])),
        Figure("ingest", "trivial endpoint, single", format_rate(single["trivial"])),
        Figure(
            "ingest",
            "single: ingest / trivial",
            format_ratio(ratio(single["ingest"], single["trivial"])),
        ),
        Figure("ingest", f"single at {FIXED_RATE} req/s: p50", format_ms(p50), "", None),
        Figure(
            "ingest",
            f"single at {FIXED_RATE} req/s: p99",
            format_ms(p99),
            "≤ 50 ms",
            p99 <= TARGET_P99_S and failures == 0,
        ),
        Figure(
            "ingest",
            f"trivial at {FIXED_RATE} req/s: p50 / p99",
            f"{format_ms(t50)} / {format_ms(t99)}",
        ),
    ]
    return figures
