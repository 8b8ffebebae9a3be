"""Memory: worker RSS holding a big tenant (10k reps, 1k teams, 100k open deals, 100 days).

The full size takes the worker longer to fold than ``make bench`` can afford at today's
throughput, so by default a ``scale`` of it is built (reps, teams, customers, open deals and the
history's volume all times ``scale``, still over 100 days), and the RSS above an idle worker's is
extrapolated linearly to the full size; ``--memory-scale 1`` measures it for real. Besides RSS
it reports what the worker keeps on disk (``du`` of its data dir: the RocksDB state of state
engine v2) and one ``/metrics`` scrape.

``python -m bench memory-year`` (``bench.memory_year``) is the other half: a year-long stream fed
in slices, to see whether RSS and disk stay flat once retention by stream time prunes old days.
"""

from __future__ import annotations

import time

import httpx

from bench import infra
from bench.pipeline import fold_timeout, history_end, time_product
from bench.state_size import live_state
from bench.stats import Figure, format_rate, rate
from bench.workload import Shape, history, route_of

FULL = Shape(reps=10_000, teams=1_000, customers=50_000, days=100, open_deals=100_000)
FULL_HISTORY_EVENTS = 200_000
"""Closed deals, calls and costs of the 100 days, besides the open deals."""
TARGET_MB = 500


def kpi_series(exposition: str) -> int:
    """KPI samples (the ``sales_`` families) in a ``/metrics`` answer."""
    return exposition.count("\nsales_") + exposition.startswith("sales_")


async def idle_rss(bootstrap: str, env: dict[str, str]) -> float:
    prefix = infra.new_prefix("memory-idle")
    await infra.create_topics(bootstrap, prefix)
    stack = infra.stack(bootstrap, prefix, **env)
    try:
        worker = stack.start_worker()
        return infra.rss_mb(worker.process.pid)[0]
    finally:
        stack.stop()


async def run(bootstrap: str, scale: float, env: dict[str, str] | None = None) -> list[Figure]:
    shape = Shape(
        reps=round(FULL.reps * scale),
        teams=round(FULL.teams * scale),
        customers=round(FULL.customers * scale),
        days=FULL.days,
        open_deals=round(FULL.open_deals * scale),
    )
    env = env or {}
    idle = await idle_rss(bootstrap, env)
    prefix = infra.new_prefix("memory")
    names = await infra.create_topics(bootstrap, prefix)
    log = history(round(FULL_HISTORY_EVENTS * scale), history_end(), shape)
    await infra.produce(bootstrap, infra.encoded(log, names, route_of))
    timeout_s = fold_timeout(len(log))
    seconds, stack, _ = await time_product(bootstrap, names, prefix, env=env, timeout_s=timeout_s)
    try:
        rss, peak = infra.rss_mb(stack.workers[0].process.pid)
        disk = infra.disk_bytes(stack.data_dir(0))
        state = live_state(stack.data_dir(0))
        started = time.monotonic()
        scrape = httpx.get(f"{stack.workers[0].url}/metrics", timeout=300)
        scrape_s = time.monotonic() - started
        started = time.monotonic()
        httpx.get(f"{stack.workers[0].url}/metrics", timeout=300)
        again_s = time.monotonic() - started  # every report reused: nothing changed
    finally:
        stack.stop()
    series = kpi_series(scrape.text)
    full = idle + (rss - idle) / scale
    print(
        f"memory: {shape} {len(log):,} events folded in {seconds:.0f}s "
        f"({format_rate(rate(len(log), seconds))}); idle {idle:.0f} MiB, RSS {rss:.0f} MiB "
        f"(peak {peak:.0f}); data dir {disk / 2**20:.1f} MiB; full size ≈ {full:.0f} MiB"
    )
    size = f"{shape.reps:,} reps, {shape.teams:,} teams, {shape.open_deals:,} open deals"
    figures = [
        Figure("memory", "idle worker RSS", f"{idle:.0f} MiB"),
        Figure(
            "memory", f"RSS with {size}, {len(log):,} events", f"{rss:.0f} MiB (peak {peak:.0f})"
        ),
        Figure(
            "memory",
            "state at that size: live values (bytes) in the DB; du of the data dir",
            f"{state.values:,} values ({state.bytes / 2**20:.1f} MiB); {disk / 2**20:.1f} MiB",
        ),
    ]
    figures.append(
        Figure(
            "memory",
            f"/metrics scrape at that size ({series:,} series), then again unchanged",
            f"{scrape_s:.1f} s, then {again_s:.2f} s",
        )
    )
    if scale != 1:
        figures.append(
            Figure(
                "memory",
                f"extrapolated to full size (×{1 / scale:g} above idle)",
                f"≈ {full:.0f} MiB",
                "≤ 500 MB",
                full <= TARGET_MB,
            )
        )
    else:
        figures[1].target, figures[1].met = "≤ 500 MB", rss <= TARGET_MB  # the RSS figure
    return figures
