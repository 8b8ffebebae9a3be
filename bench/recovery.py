"""Recovery: restart a worker holding a history, time until it is ready again, check it is exact.

With the in-memory store (the default of a bare ``salespulse worker``) a restart rebuilds every
table from its changelog topic; with ``rocksdb://`` (what docker-compose and the Kubernetes
StatefulSet run) it reopens its local state and replays only the changelog tail. ``python -m bench
all`` measures the first on the state the pipeline benchmark built and the second on a history of
``--recovery-events``; ``python -m bench recovery --recovery-events N`` builds its own (store from
``--worker-env SALESPULSE_TABLE_STORE=...``).
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


async def restart_and_check(
    stack, bootstrap, names, prefix, expected, end, events: int, store: str = "memory://"
):
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
        f"recovery ({store}): {events:,} events ({records:,} changelog records) ready in "
        f"{seconds:.1f}s "
        f"({format_rate(rate(records, seconds))} records), {len(problems)} keys differ, "
        f"RSS after recovery {rss:.0f} MiB"
    )
    restart = Figure(
        "recovery",
        f"{store} restart with {events:,} events ({records:,} changelog records)",
        f"{seconds:.1f} s to ready",
    )
    if store.startswith("rocksdb"):
        # Local state is reopened and only the changelog tail since the last flush is replayed,
        # so the time does not grow with the history (chaos scenario 7: 0 of ~191k re-read).
        scaled_figure = Figure(
            "recovery",
            f"{store} restart (time independent of history length)",
            f"{seconds:.1f} s",
            "≤ 15 s",
            seconds <= TARGET_S,
        )
    else:
        scaled_figure = Figure(
            "recovery",
            f"{store} same, scaled linearly to 1M events",
            f"≈ {scaled:.0f} s",
            "≤ 15 s",
            scaled <= TARGET_S,
        )
    return [
        restart,
        scaled_figure,
        Figure("recovery", f"{store} RSS after the restart", f"{rss:.0f} MiB"),
        Figure(
            "recovery",
            f"{store} exact after restart",
            f"{len(problems)} keys differ",
            "0",
            not problems,
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
        store = (env or {}).get("SALESPULSE_TABLE_STORE", "memory://")
        return await restart_and_check(
            stack, bootstrap, names, prefix, expected_kpis(log, end), end, len(log), store
        )
    finally:
        stack.stop()
