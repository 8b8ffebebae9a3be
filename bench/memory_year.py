"""Memory over a year-long stream: does the worker stay flat once retention prunes old days?

Issue 14 asks for state and RSS "flat over a year-long stream" (retention by stream time,
``SALESPULSE_RETENTION_DAYS``, default 100). A constant-rate history over 365 days (by default
1,000 reps, 100 teams, 200k events: it folds in a few minutes here) is fed to one worker in
stream-time order, ``slice_days`` at a time; after each slice is folded (the group's lag is 0) the
worker's RSS, the live state in its DB (values and bytes, ``bench.state_size``), its data dir
on disk (``du``) and the KPI series on ``/metrics`` are sampled. Without retention every row grows
with the days seen; with it, the rows after day ~100 level off. The figures compare the last
slice with the first one ending at or after ``REFERENCE_DAY`` (past the retention horizon, so the
state should already be at its plateau there): RSS and live state together, ``du`` apart (RocksDB
frees a deleted value's space only when compaction reaches it, and at these sizes most of the dir
is write-ahead log). The KPIs at the end are checked exact against ``projections.recompute``
(every window ends at the stream's end, within the horizon).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx

from bench import infra
from bench.exact import expected_kpis, mismatches
from bench.memory import kpi_series
from bench.state_size import live_state
from bench.stats import Figure, format_rate, rate
from bench.workload import DAY, Shape, history, route_of
from events.settings import Settings

DAYS = 365
REFERENCE_DAY = 130
FLAT_WITHIN = 0.20
"""Last slice's RSS and disk at most this much above the reference slice's: "flat"."""
SLICE_TIMEOUT_S = 1800
YEAR_ENV = {"SALESPULSE_TABLE_STORE": "rocksdb://"}


@dataclass
class Sample:
    """The worker after one slice of the year is folded."""

    day: int
    """Days of the year fed so far (the slice's end)."""
    events: int
    fold_s: float
    rss_mb: float
    peak_mb: float
    disk_mb: float
    values: int
    """Live state values (every column family but the bookkeeping)."""
    state_mb: float
    day_values: int
    series: int
    scrape_s: float
    breakdown: str = ""
    """Values per column family, to see which kind of state still grows."""


def day_of(event: dict, start_s: float) -> int:
    """Day of the year (0-based) of an event's ``occurred_at``."""
    stamp = datetime.strptime(event["occurred_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    return int((stamp - start_s) // DAY)


def slices(events: Sequence[dict], start_s: float, slice_days: int) -> list[tuple[int, list]]:
    """(end day, events) per ``slice_days`` of event time, arrival order kept within each; the
    last slice ends at ``DAYS`` (it may be shorter)."""
    count = -(-DAYS // slice_days)
    out: list[tuple[int, list]] = [(min((i + 1) * slice_days, DAYS), []) for i in range(count)]
    for event in events:
        index = min(max(day_of(event, start_s), 0) // slice_days, count - 1)
        out[index][1].append(event)
    return out


def change(new: float, old: float) -> float:
    """Relative change; ``nan`` from nothing."""
    return new / old - 1 if old else float("nan")


def reference_and_last(samples: Sequence[Sample]) -> tuple[Sample, Sample]:
    """The first sample at or after ``REFERENCE_DAY`` (the first one if none is), the last."""
    return next((s for s in samples if s.day >= REFERENCE_DAY), samples[0]), samples[-1]


def is_flat(*changes: float) -> bool:
    """Every change at most ``FLAT_WITHIN`` (a ``nan`` is not flat)."""
    return all(c <= FLAT_WITHIN for c in changes)


def sample_table(samples: Sequence[Sample]) -> str:
    """The per-slice rows, as docs/BENCHMARKS.md shows them."""
    lines = [
        "| day | events fed | fold s | RSS MiB | peak MiB | live values | day values "
        "| live MiB | data dir MiB | KPI series | scrape s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s.day} | {s.events:,} | {s.fold_s:.0f} | {s.rss_mb:.0f} | {s.peak_mb:.0f} | "
        f"{s.values:,} | {s.day_values:,} | {s.state_mb:.1f} | {s.disk_mb:.1f} | "
        f"{s.series:,} | {s.scrape_s:.2f} |"
        for s in samples
    ]
    return "\n".join(lines)


async def sample(stack, day: int, events: int, fold_s: float) -> Sample:
    """RSS, disk and ``/metrics`` of the stack's worker, now."""
    worker = stack.workers[0]
    rss, peak = infra.rss_mb(worker.process.pid)
    disk = infra.disk_bytes(stack.data_dir(0)) / 2**20
    state = live_state(stack.data_dir(0))
    async with httpx.AsyncClient(timeout=300) as client:
        started = time.monotonic()
        text = (await client.get(f"{worker.url}/metrics")).text
        scrape_s = time.monotonic() - started
    return Sample(
        day,
        events,
        fold_s,
        rss,
        peak,
        disk,
        state.values,
        state.bytes / 2**20,
        state.count("days"),
        kpi_series(text),
        scrape_s,
        state.describe(),
    )


async def feed(bootstrap: str, prefix: str, names, parts, stack) -> list[Sample]:
    """Produce the slices one by one, each folded (lag 0) before the next; a sample after each."""
    samples, fed = [], 0
    topics = infra.worker_topics(prefix)
    async with infra.LagProbe(bootstrap, infra.worker_group(prefix), topics) as probe:
        for day, part in parts:
            started = time.monotonic()
            await infra.produce(bootstrap, infra.encoded(part, names, route_of))
            await probe.wait_zero(SLICE_TIMEOUT_S)
            fed += len(part)
            samples.append(await sample(stack, day, fed, time.monotonic() - started))
            s = samples[-1]
            print(
                f"memory-year: day {day}: {fed:,} events, RSS {s.rss_mb:.0f} MiB, "
                f"{s.values:,} live values ({s.state_mb:.1f} MiB: {s.breakdown}), "
                f"data dir {s.disk_mb:.1f} MiB, {s.series:,} KPI series"
            )
    return samples


def figures_of(samples: Sequence[Sample], shape: Shape, retention: str, problems) -> list[Figure]:
    """The run, "flat over a year" (RSS and live state; ``du`` apart) and exactness."""
    ref, last = reference_and_last(samples)
    rss, state = change(last.rss_mb, ref.rss_mb), change(last.state_mb, ref.state_mb)
    disk = change(last.disk_mb, ref.disk_mb)
    total_s = sum(s.fold_s for s in samples)
    within = f"within {FLAT_WITHIN:.0%}"
    return [
        Figure(
            "memory-year",
            f"{shape.reps:,} reps, {shape.teams:,} teams, {DAYS} days fed in "
            f"{len(samples)} slices (retention {retention})",
            f"{last.events:,} events in {total_s:.0f} s, waits for lag 0 included "
            f"({format_rate(rate(last.events, total_s))})",
        ),
        Figure(
            "memory-year",
            f"flat over a year: day {last.day} vs day {ref.day}, RSS and live state",
            f"RSS {ref.rss_mb:.0f} → {last.rss_mb:.0f} MiB ({rss:+.0%}); live state "
            f"{ref.state_mb:.1f} → {last.state_mb:.1f} MiB ({state:+.0%}), day values "
            f"{ref.day_values:,} → {last.day_values:,}; KPI series {ref.series:,} → "
            f"{last.series:,}",
            within,
            is_flat(rss, state),
        ),
        Figure(
            "memory-year",
            f"data dir on disk (du), day {last.day} vs day {ref.day}",
            f"{ref.disk_mb:.1f} → {last.disk_mb:.1f} MiB ({disk:+.0%})",
            within,
            is_flat(disk),
        ),
        Figure(
            "memory-year",
            "exact at the end of the year",
            f"{len(problems)} keys differ",
            "0",
            not problems,
        ),
    ]


async def run(
    bootstrap: str,
    events: int,
    shape: Shape,
    slice_days: int,
    env: dict[str, str] | None = None,
) -> list[Figure]:
    """Feed a year of ``events`` (``shape.days`` is forced to 365) in ``slice_days`` slices."""
    from bench.pipeline import history_end

    env = {**YEAR_ENV, **(env or {})}
    shape = Shape(shape.reps, shape.teams, shape.customers, DAYS, shape.open_deals)
    prefix = infra.new_prefix("memory-year")
    names = await infra.create_topics(bootstrap, prefix)
    end = history_end()
    log = history(events, end, shape)
    parts = slices(log, end.timestamp() - DAYS * DAY, slice_days)
    stack = infra.stack(bootstrap, prefix, **env)
    try:
        await infra.wait_assigned([stack.start_worker(wait=False)])
        samples = await feed(bootstrap, prefix, names, parts, stack)
        problems = await mismatches(stack.workers[0].url, expected_kpis(log, end), end)
    finally:
        stack.stop()
    retention = env.get("SALESPULSE_RETENTION_DAYS") or f"{default_retention()} (default)"
    print(f"memory-year: {len(problems)} keys differ at the end\n\n{sample_table(samples)}\n")
    return figures_of(samples, shape, f"{retention} days", problems)


def default_retention() -> object:
    """The product's ``retention_days`` default ("none" before retention exists)."""
    field = Settings.model_fields.get("retention_days")
    return "none" if field is None else field.default
