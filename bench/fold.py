"""``python -m bench fold``: the CPU of the agents' pure code per event, in process, no Kafka.

The backfill workload of ``bench.pipeline`` (``bench.workload.history``, default shape, 8
partitions) is encoded as the records the event topics would hold, then fed to the five agents
of one worker (``bench.fold_agents``: the same decode, folds and codecs as
``streams.pipeline``, dict tables) in batches of 2000 records, as a lagging worker takes them:
a batch of each event topic in turn, then any full batch of customer-wins and kpi-deltas, and what
is left of those at the end. Each stage is timed on its own.

Baseline, measured in the same run: ``orjson.loads`` of every record value, the consume+decode
ceiling without Kafka (design state-engine-v2 §12). Afterwards the KPIs of a sample of scope keys,
read from the dict day values, are compared with ``projections.recompute`` over the same events.
``profile_top``: a cProfile of the fold stages only (a second pass: profiling slows what it
measures), top functions by cumulative time.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from bench.fold_agents import (
    APPLY,
    DELTAS_CODEC,
    FOLD_STAGES,
    STAGES,
    InProcessWorker,
    MemoryTopic,
    Record,
    StageClock,
)
from bench.stats import Figure, format_rate, format_ratio, rate, ratio
from bench.workload import Shape, history, route_of
from events.models import EventPolicy, validate_event
from events.settings import Settings
from events.topics import TopicNames
from projections import day_readout
from projections.kpis import OpenStock
from projections.recompute import recompute
from projections.state_types import DayValue
from projections.timebase import BucketGrid
from streams.gc_policy import tune_collector
from streams.kpi_apply import kpi_apply_of
from tests.support.kpis import kpi_mismatches

PARTITIONS = 8
BATCH = 2000
SAMPLE_KEYS = 300
BACKFILL = Shape()
"""The cardinality of ``bench.pipeline``'s workload (1,000 reps, 100 teams, 20k customers)."""
TARGET_RATE = 10_000
"""Issue 14's throughput target (events/s of one worker)."""
FOLD_BUDGET_US = 50.0
"""Design §12: fold + apply must fit in 50 µs per event for a worker to reach 10k events/s."""
END = datetime(2026, 2, 14, 15, 0, tzinfo=UTC)
"""End of the generated history and instant of the exactness check (fixed: reproducible runs)."""


@dataclass
class FoldRun:
    """What one pass measured: per-stage seconds and counts, the baseline, the exactness check."""

    events: int
    clock: StageClock
    total_s: float
    baseline_s: float
    keys_checked: int
    keys_differing: int
    problems: list[str]
    invalid: int

    def us_per_event(self, seconds: float) -> float:
        return seconds * 1e6 / self.events if self.events else float("nan")


def event_records(events: list[dict], names: TopicNames) -> dict[str, MemoryTopic]:
    """The event topics as the producer would fill them: topic and key per contract section 7."""
    topics = {name: MemoryTopic(name, PARTITIONS) for name in names.event_topics}
    for event in events:
        topic, key = route_of(event, names)
        topics[topic].append(key.encode(), orjson.dumps(event))
    return topics


def baseline_seconds(topics: dict[str, MemoryTopic], rounds: int = 5) -> float:
    """Best of ``rounds`` passes of ``orjson.loads`` over every record value."""
    values = [r.value for topic in topics.values() for r in topic.records]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for value in values:
            orjson.loads(value)
        best = min(best, time.perf_counter() - started)
    return best


def drive(worker: InProcessWorker, topics: dict[str, MemoryTopic], names: TopicNames) -> None:
    """Feed every record through the agents, batch by batch, until nothing is left anywhere."""
    kinds = ((names.deal_events, "deal"), (names.call_events, "call"), (names.cost_events, "cost"))
    while any(topics[name].backlog() for name, _ in kinds):
        for name, kind in kinds:
            batch = topics[name].take(BATCH)
            if batch:
                worker.on_event_batch(kind, batch)
        _drain(worker, full_only=True)
    _drain(worker, full_only=False)


def _drain(worker: InProcessWorker, full_only: bool) -> None:
    """Batches of the internal topics: customer-wins first, since it emits kpi-deltas."""
    least = BATCH if full_only else 1
    for topic, handler in (
        (worker.customer_wins, worker.on_customer_batch),
        (worker.kpi_deltas, worker.on_kpi_batch),
    ):
        while topic.backlog() >= least:
            handler(topic.take(BATCH))
        topic.forget_read()


def check_exact(
    worker: InProcessWorker, records: list[Record], policy: EventPolicy, sample: int
) -> tuple[int, int, list[str]]:
    """(keys compared, keys differing, differences): a sample of scope keys' six windows at
    ``END``, from the worker's day values and from ``projections.recompute`` over the records."""
    typed = (validate_event(orjson.loads(r.value), policy) for r in records)
    store = recompute(typed, worker.grid)
    keys = sorted(store.keys() | set(worker.tables.live_keys))
    chosen = random.Random(14).sample(keys, min(sample, len(keys)))
    days = worker.tables.days

    def read_day(key: str, day: int) -> DayValue | None:
        return days.get((key, day))

    def open_stock(key: str, end_hour: int) -> OpenStock:
        later = sorted((d, v) for (k, d), v in days.items() if k == key and d >= end_hour // 24)
        return day_readout.open_stock(worker.tables.stocks.get(key), later, end_hour)

    problems, differing = [], 0
    for key in chosen:
        found = _differences(
            day_readout.report(read_day, key, END, worker.grid, open_stock),
            store.report(key, END),
        )
        differing += bool(found)
        problems += [f"{key} {problem}" for problem in found]
    return len(chosen), differing, problems


def _differences(got: dict | None, want: dict | None) -> list[str]:
    if got is None or want is None:
        same = (got is None) == (want is None)
        return [] if same else [f"reported: {got is not None}, expected: {want is not None}"]
    return [f"{w}: {p}" for w in want for p in kpi_mismatches(got[w], want[w])]


def run_fold(
    events: int = 30_000,
    shape: Shape = BACKFILL,
    sample: int = SAMPLE_KEYS,
    profiler: cProfile.Profile | None = None,
    engine: str = "auto",
) -> FoldRun:
    """One pass over a fresh worker, applying kpi-deltas through ``engine``
    (``streams.kpi_apply``); pure and in process, so tests call it on tiny workloads."""
    names = TopicNames("bench-fold")
    policy = EventPolicy(clock=lambda: END + timedelta(minutes=1))
    topics = event_records(history(events, END, shape), names)
    arrival = [r for topic in topics.values() for r in topic.records]
    baseline_s = baseline_seconds(topics)
    clock = StageClock(profiler=profiler)
    grid = BucketGrid("UTC")
    worker = InProcessWorker(names, PARTITIONS, grid, policy, clock, BATCH, kpi_apply_of(engine))
    started = time.perf_counter()
    drive(worker, topics, names)
    total_s = time.perf_counter() - started
    # Topic after topic, each in append order: every partition in offset order, as the agents
    # saw it; the order across deals, calls and costs changes no KPI.
    checked, differing, problems = check_exact(worker, arrival, policy, sample)
    return FoldRun(
        len(arrival), clock, total_s, baseline_s, checked, differing, problems, worker.invalid
    )


def profile_top(events: int, shape: Shape = BACKFILL, top: int = 20, engine: str = "python") -> str:
    """cProfile of the fold stages of a second pass, ``top`` functions by cumulative time
    (the interpreted apply by default: the compiled one is one opaque call)."""
    profiler = cProfile.Profile()
    run_fold(events, shape, sample=1, profiler=profiler, engine=engine)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def figures(result: FoldRun) -> list[Figure]:
    """Rates, µs per input event per stage and their ratio to the baseline, exactness."""
    n, clock = result.events, result.clock
    base_us = result.us_per_event(result.baseline_s)
    out = [
        Figure("fold", "events (backfill workload), batch", f"{n:,}, {BATCH}"),
        Figure("fold", "baseline: orjson.loads of the values", _rate_us(n, result.baseline_s)),
    ]
    for stage in STAGES:
        us = result.us_per_event(clock.seconds[stage])
        times = format_ratio(ratio(us, base_us))
        value = f"{us:.1f} µs/event, {times} baseline ({clock.counts[stage]:,} items)"
        out.append(Figure("fold", stage, value))
    fold_us = result.us_per_event(sum(clock.seconds[s] for s in FOLD_STAGES))
    all_rate = rate(n, result.total_s)
    vs_base = format_ratio(ratio(all_rate, rate(n, result.baseline_s)))
    equal = result.keys_checked - result.keys_differing
    out += [
        Figure(
            "fold",
            "fold + apply (4 fold stages)",
            f"{fold_us:.1f} µs/event",
            f"≤ {FOLD_BUDGET_US:.0f} µs",
            fold_us <= FOLD_BUDGET_US,
        ),
        Figure(
            "fold",
            "all stages, one core",
            f"{_rate_us(n, result.total_s)}, {vs_base} baseline rate",
            f"≥ {TARGET_RATE:,}/s",
            all_rate >= TARGET_RATE,
        ),
        Figure(
            "fold",
            "exact vs recompute (sampled keys)",
            f"{equal:,}/{result.keys_checked:,} keys equal, {result.invalid} invalid events",
            "all",
            not result.problems and not result.invalid,
        ),
    ]
    return out


def _rate_us(count: int, seconds: float) -> str:
    return f"{format_rate(rate(count, seconds))} ({seconds * 1e6 / count:.1f} µs/event)"


def engine_figures(python: FoldRun, native: FoldRun) -> list[Figure]:
    """The compiled apply against the interpreted one, both measured in this run."""
    apply_gain = ratio(python.clock.seconds[APPLY], native.clock.seconds[APPLY])
    read_gain = ratio(python.clock.seconds[DELTAS_CODEC], native.clock.seconds[DELTAS_CODEC])
    total_gain = ratio(python.total_s, native.total_s)
    return [
        Figure("fold", "interpreted apply, all stages", _rate_us(python.events, python.total_s)),
        Figure("fold", "compiled vs interpreted: apply-kpis", f"{format_ratio(apply_gain)} faster"),
        Figure(
            "fold", "compiled vs interpreted: kpi-deltas codec", f"{format_ratio(read_gain)} faster"
        ),
        Figure("fold", "compiled vs interpreted: all stages", f"{format_ratio(total_gain)} faster"),
    ]


async def run(events: int, profile: bool = False) -> list[Figure]:
    """The ``python -m bench fold`` entry: a pass with the interpreted apply, one with the
    compiled one (the product's default), then the profile if asked for. The garbage collector
    runs as in a worker (``streams.gc_policy``, the setting's default): with CPython's, its
    collections fall on whichever stage allocates when they are due and blur the stage figures."""
    tune_collector(Settings.model_fields["worker_gc_young_threshold"].default)
    python = run_fold(events, engine="python")
    result = run_fold(events, engine="native")
    for problem in (python.problems + result.problems)[:10]:
        print(f"fold: differs: {problem}")
    print(f"fold: {result.events:,} events through every stage in {result.total_s:.1f}s")
    if profile:
        print(profile_top(events))
    return figures(result) + engine_figures(python, result)
