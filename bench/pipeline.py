"""Pipeline throughput: N pre-produced events until every KPI table reflects them.

Five consumers of the same topics, in the same run: a raw aiokafka consumer that reads and
JSON-decodes every message (the physical limit of a Python consumer here), one real
``salespulse worker`` process, Faust's own floor twice (``bench.faust_floor``: agents that only
take their events, timed by what they took, with Faust's consumer and with the worker's) and the
naive Faust baseline (``bench.naive_app``). Completion of a Faust app is its consumer group's
committed lag reaching 0 on every topic it reads (input and internal); its clock starts when its
process is launched, so start-up (topic checks, group join, table recovery of empty changelogs:
about 5-10 s here) is counted, which favours no one: every Faust app pays it. The naive app, far
slower, gets a time budget and is timed by the events it has taken from its stream (its commits
stall behind its changelog traffic). Afterwards every KPI the worker answers is compared with
``projections.recompute``.
"""

from __future__ import annotations

import asyncio
import math
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench import infra
from bench.exact import expected_kpis, mismatches
from bench.naive_app import changelog_topics
from bench.stats import Figure, format_rate, format_ratio, middle_rate, rate, ratio
from bench.workload import Shape, history, route_of
from streams.telemetry import PROCESSING_LATENCY_METRIC
from tests.support.stack import Service, free_port

TIMEOUT_S = 900
SLOWEST_RATE = 300
"""Events/s below which a fold is taken as stuck: ``TIMEOUT_S`` alone is too short for the
full-size recovery (1M events) and memory (400k) histories on a busy 2-CPU box."""


def fold_timeout(events: int) -> float:
    """Seconds a worker gets to fold ``events``: ``TIMEOUT_S``, more for big histories."""
    return max(TIMEOUT_S, events / SLOWEST_RATE)


def history_end() -> datetime:
    """A minute boundary just past, so that every event is valid (not in the future)."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)


async def raw_consume(bootstrap: str, topics: list[str], expect: int) -> float:
    """Seconds for a bare aiokafka consumer to read and ``orjson.loads`` ``expect`` messages."""
    started = time.monotonic()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = 0
        while count < expect:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batch.values():
                for message in messages:
                    orjson.loads(message.value)
                count += len(messages)
    finally:
        await consumer.stop()
    return time.monotonic() - started


def start_profiler(pid: int, out: Path) -> subprocess.Popen:
    py_spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


async def time_product(
    bootstrap,
    names,
    prefix,
    workers: int = 1,
    profile: Path | None = None,
    env=None,
    timeout_s: float = TIMEOUT_S,
):
    """(seconds from launch to lag 0, the stack with its workers still running, the input
    backlog seen on the way: ``infra.LagProbe.backlog``)."""
    stack = infra.stack(bootstrap, prefix, **(env or {}))
    launched = time.monotonic()
    services = [stack.start_worker(wait=False) for _ in range(workers)]
    profiler = start_profiler(services[0].process.pid, profile) if profile else None
    try:
        await infra.wait_assigned(services)
        topics = infra.worker_topics(prefix)
        group = infra.worker_group(prefix)
        async with infra.LagProbe(bootstrap, group, topics, names.event_topics) as probe:
            done = await probe.wait_zero(timeout_s)
    except BaseException:
        stack.stop()
        raise
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
    return done - launched, stack, probe.backlog


FLOOR_BUDGET_S = 120.0
"""Longest the Faust floor may take (it takes 100k events in seconds)."""

FLOOR_CONSUMERS = {"faust": "Faust's consumer", "worker": "the worker's consumer"}
"""The floor's two runs (``bench.faust_floor``): Faust's fetch loop, and the worker's."""


async def time_naive(bootstrap, names, prefix, expect: int, budget_s: float) -> tuple[int, float]:
    """(events, seconds) the naive app got through: all of them, or what it had taken from its
    stream when ``budget_s`` ran out (it is slow; its rate does not depend on how many are left).
    """
    await infra.create_compacted(bootstrap, changelog_topics(prefix))
    samples = await time_baseline_app("bench.naive_app", bootstrap, prefix, expect, budget_s)
    launched, (at, processed) = samples[0][0], samples[-1]
    return processed, at - launched


async def time_floor(
    bootstrap, prefix, expect: int, budget_s: float, consumer: str
) -> tuple[float, float]:
    """(launch to every event taken, rate between 90 % and 10 % left) of Faust's own floor
    (``bench.faust_floor``): agents that only take and ack the events, with ``consumer``
    (``faust`` or ``worker``)."""
    samples = await time_baseline_app(
        "bench.faust_floor", bootstrap, prefix, expect, budget_s, args=(consumer,)
    )
    launched, (at, processed) = samples[0][0], samples[-1]
    taken_s = at - launched if processed >= expect else math.nan
    backlog = [(when, expect - done) for when, done in samples]
    return taken_s, middle_rate(backlog, expect)


async def time_baseline_app(
    module: str,
    bootstrap: str,
    prefix: str,
    expect: int,
    budget_s: float,
    poll_s: float = 0.25,
    args: tuple[str, ...] = (),
) -> list[tuple[float, int]]:
    """(monotonic time, events processed) of a baseline app process (``module`` with ``args``
    after the usual four, timed by its ``GET /progress``), from its launch (processed 0) until it
    has ``expect`` or ``budget_s`` ran out."""
    port = free_port()
    workdir = infra.run_dir(prefix)
    name = "-".join((module.rpartition(".")[2], *args))
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                module,
                bootstrap,
                prefix,
                str(port),
                str(workdir / name),
                *args,
            ],
            cwd=infra.REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    service = Service(name, f"http://127.0.0.1:{port}", process, log_path)
    launched = time.monotonic()
    samples = [(launched, 0)]
    try:
        await infra.wait_assigned([service])
        deadline = launched + budget_s
        processed = 0
        async with httpx.AsyncClient(timeout=30) as client:
            while processed < expect and time.monotonic() < deadline:
                await asyncio.sleep(poll_s)
                processed = (await client.get(f"{service.url}/progress")).json()["processed"]
                samples.append((time.monotonic(), processed))
        return samples
    finally:
        service.stop()


class ApplyWait(NamedTuple):
    """How long the worker's kpi-deltas messages waited between sent and applied, from its
    ``salespulse_processing_latency_seconds{agent="apply-kpis"}``: how far the KPIs trailed the
    folds during the run (docs/BENCHMARKS.md, "the apply agent lags during a backfill")."""

    messages: int
    mean_s: float
    within_5_s: int


def apply_wait_of(metrics_text: str) -> ApplyWait:
    """The apply agent's wait in a worker's ``/metrics`` page."""
    found: dict[tuple[str, str | None], float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != PROCESSING_LATENCY_METRIC:
            continue
        for sample in family.samples:
            if sample.labels.get("agent") == "apply-kpis":
                suffix = sample.name.removeprefix(PROCESSING_LATENCY_METRIC)
                found[suffix, sample.labels.get("le")] = sample.value
    messages = int(found.get(("_count", None), 0))
    total_s = found.get(("_sum", None), 0.0)
    return ApplyWait(
        messages,
        total_s / messages if messages else math.nan,
        int(found.get(("_bucket", "5.0"), 0)),
    )


async def apply_wait(base_url: str) -> ApplyWait:
    async with httpx.AsyncClient(timeout=30) as client:
        return apply_wait_of((await client.get(f"{base_url}/metrics")).text)


async def run(
    bootstrap: str,
    events: int,
    profile: Path | None = None,
    naive_budget_s: float = 60.0,
    worker_env: dict[str, str] | None = None,
) -> list[Figure]:
    """``naive_budget_s`` 0: no naive baseline."""
    prefix = infra.new_prefix("pipeline")
    names = await infra.create_topics(bootstrap, prefix)
    end = history_end()
    log = history(events, end, Shape())
    n = len(log)
    started = time.monotonic()
    await infra.produce(bootstrap, infra.encoded(log, names, route_of))
    produce_s = time.monotonic() - started
    print(
        f"pipeline: produced {n:,} events in {produce_s:.1f}s ({format_rate(rate(n, produce_s))})"
    )

    raw_s = await raw_consume(bootstrap, list(names.event_topics), n)
    print(f"pipeline: raw consume {raw_s:.1f}s ({format_rate(rate(n, raw_s))})")
    product_s, stack, backlog = await time_product(
        bootstrap, names, prefix, profile=profile, env=worker_env or {}
    )
    steady = middle_rate(backlog, n)
    worker = stack.workers[0]
    rss, _ = infra.rss_mb(worker.process.pid)
    cpu_s = infra.cpu_seconds(worker.process.pid)
    print(
        f"pipeline: worker {product_s:.1f}s ({format_rate(rate(n, product_s))}; "
        f"{format_rate(steady)} from 90 % to 10 % of the input left), RSS {rss:.0f} MiB, "
        f"CPU {cpu_s:.1f}s"
    )
    figures = []
    try:
        expected = expected_kpis(log, end)
        problems = await mismatches(worker.url, expected, end)
        print(
            f"pipeline: exactness: {len(expected):,} (scope, id, window) compared, "
            f"{len(problems)} differ" + "".join(f"\n  {p}" for p in problems[:10])
        )
        waited = await apply_wait(worker.url)
        print(
            f"pipeline: kpi-deltas messages waited {waited.mean_s:.1f}s on average between sent "
            f"and applied ({waited.messages:,} messages, {waited.within_5_s:,} within 5 s)"
        )
        figures.append(
            Figure(
                "pipeline",
                "kpi-deltas sent → applied during the run (mean; within 5 s)",
                f"{waited.mean_s:.1f} s; {waited.within_5_s:,} of {waited.messages:,}",
            )
        )
        written = await infra.records_written(bootstrap, prefix, names.event_topics)
        per_event = sum(written.values()) / n
        print(
            f"pipeline: records produced per input event {per_event:.3f} ("
            + ", ".join(f"{topic[len(prefix) :]} {count:,}" for topic, count in written.items())
            + ")"
        )
        figures.append(
            Figure(
                "pipeline",
                "records produced per input event",
                f"{per_event:.3f}",
                "< 0.2",
                per_event < 0.2,
            )
        )
    finally:
        stack.stop()
    floors = {}
    for consumer in ("faust", "worker"):
        floor_s, floor_steady = floors[consumer] = await time_floor(
            bootstrap, prefix, n, FLOOR_BUDGET_S, consumer
        )
        print(
            f"pipeline: Faust floor (agents that only take events), {FLOOR_CONSUMERS[consumer]}, "
            f"{floor_s:.1f}s ({format_rate(rate(n, floor_s))}; "
            f"{format_rate(floor_steady)} from 90 % to 10 % left)"
        )
    naive_n, naive_s = 0, float("nan")
    if naive_budget_s > 0:
        naive_n, naive_s = await time_naive(bootstrap, names, prefix, n, naive_budget_s)
        print(
            f"pipeline: naive Faust {naive_n:,} events in {naive_s:.1f}s "
            f"({format_rate(rate(naive_n, naive_s))})"
        )

    product, raw, naive_rate = rate(n, product_s), rate(n, raw_s), rate(naive_n, naive_s)
    vs_naive, vs_raw = ratio(product, naive_rate), ratio(product, raw)
    equal = len(expected) - len({p.split(" ")[0] for p in problems})
    return [
        Figure(
            "pipeline",
            "events produced (aiokafka, acks=1)",
            f"{n:,} at {format_rate(rate(n, produce_s))}",
        ),
        Figure("pipeline", "raw aiokafka consume + orjson", format_rate(raw)),
        *(
            Figure(
                "pipeline",
                f"Faust floor, {FLOOR_CONSUMERS[consumer]}: agents that only take events "
                "(launch to all; 90 % to 10 % left)",
                f"{format_rate(rate(n, floor_s))}; {format_rate(floor_steady)}",
            )
            for consumer, (floor_s, floor_steady) in floors.items()
        ),
        Figure("pipeline", f"naive Faust ({naive_n:,} events)", format_rate(naive_rate)),
        Figure("pipeline", "salespulse worker, 1 process", format_rate(product)),
        Figure(
            "pipeline",
            "worker between 90 % and 10 % of the input left (no start-up, no tail)",
            format_rate(steady),
        ),
        Figure(
            "pipeline",
            "worker / naive Faust",
            format_ratio(vs_naive),
            "≥ 10×",
            None if naive_budget_s <= 0 else vs_naive >= 10,
        ),
        Figure("pipeline", "worker / raw consume", f"{vs_raw:.1%}", "≥ 20 %", vs_raw >= 0.2),
        Figure(
            "pipeline",
            "worker / Faust floor with the worker's consumer (launch to all; 90 % to 10 % left)",
            f"{ratio(product, rate(n, floors['worker'][0])):.0%}; "
            f"{ratio(steady, floors['worker'][1]):.0%}",
        ),
        Figure("pipeline", "worker RSS after the run", f"{rss:.0f} MiB"),
        Figure(
            "pipeline",
            "worker CPU per event, launch to lag 0 (user + system, start-up included)",
            f"{cpu_s * 1e6 / n:.0f} µs ({cpu_s:.1f} s)",
        ),
        Figure(
            "pipeline",
            "exact vs recompute",
            f"{equal:,}/{len(expected):,} keys equal",
            "all",
            not problems,
        ),
        *figures,
    ]
