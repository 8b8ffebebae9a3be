"""Recovery: restart a worker holding a history, time until it is ready again, check it is exact.

The worker keeps its tables in memory (the product's default store), so a restart rebuilds every
table from its changelog topic. ``python -m bench all`` measures this on the state the pipeline
benchmark built; ``python -m bench recovery --recovery-events N`` builds its own.
"""

from __future__ import annotations

import time

from bench import infra
from bench.exact import expected_kpis, mismatches
from bench.stats import Figure, format_rate, rate
from bench.workload import Shape, history, route_of

TARGET_S = 15.0
TARGET_EVENTS = 1_000_000


async def changelog_records(bootstrap: str, prefix: str) -> int:
    """Records in the worker's table changelogs: what a restart replays."""
    async with infra.LagProbe(bootstrap, "-", []) as probe:
        cluster = await probe.consumer._client.fetch_all_metadata()
        topics = [t for t in cluster.topics() if t.startswith(f"{prefix}salespulse-")]
        probe.topics = topics
        return await probe.lag()  # nothing committed for group "-": lag = every record


async def restart_and_check(stack, bootstrap, names, prefix, expected, end, events: int):
    worker = stack.workers[0]
    records = await changelog_records(bootstrap, prefix)
    worker.stop()
    started = time.monotonic()
    worker = stack.restart_worker(worker, wait=False)
    ready = await infra.wait_assigned([worker], timeout_s=600)
    seconds = ready - started
    rss, _ = infra.rss_mb(worker.process.pid)
    problems = await mismatches(worker.url, expected, end)
    scaled = seconds * TARGET_EVENTS / events
    print(
        f"recovery: {events:,} events ({records:,} changelog records) ready in {seconds:.1f}s "
        f"({format_rate(rate(records, seconds))} records), {len(problems)} keys differ, "
        f"RSS after recovery {rss:.0f} MiB"
    )
    return [
        Figure(
            "recovery",
            f"restart with {events:,} events ({records:,} changelog records)",
            f"{seconds:.1f} s to ready",
        ),
        Figure(
            "recovery",
            "same, scaled linearly to 1M events",
            f"≈ {scaled:.0f} s",
            "≤ 15 s",
            scaled <= TARGET_S,
        ),
        Figure("recovery", "RSS after the restart (recovered state only)", f"{rss:.0f} MiB"),
        Figure(
            "recovery", "exact after restart", f"{len(problems)} keys differ", "0", not problems
        ),
    ]


async def run(bootstrap: str, events: int, env: dict[str, str] | None = None) -> list[Figure]:
    from bench.pipeline import history_end, time_product

    prefix = infra.new_prefix("recovery")
    names = await infra.create_topics(bootstrap, prefix)
    end = history_end()
    log = history(events, end, Shape())
    await infra.produce(bootstrap, infra.encoded(log, names, route_of))
    seconds, stack = await time_product(bootstrap, names, prefix, env=env)
    print(f"recovery: built state from {len(log):,} events in {seconds:.0f}s")
    try:
        return await restart_and_check(
            stack, bootstrap, names, prefix, expected_kpis(log, end), end, len(log)
        )
    finally:
        stack.stop()
