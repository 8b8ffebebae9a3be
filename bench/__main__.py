"""``python -m bench {all,pipeline,ingest,freshness,memory,recovery,scaleout,scrape,fold} [...]``.

``memory-year`` (a year-long stream fed in slices, ``bench.memory_year``) runs only when named.

Starts its own broker (``deploy/kafka/kafka.sh`` on ``BENCH_KAFKA_PORT``, default 58092) unless
``--bootstrap`` names one or only ``scrape`` or ``fold`` run (in process, no Kafka), runs the
benchmarks, prints every figure against its target and stops the broker, pass or fail. Results
also go to ``.local/bench/results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from bench import infra
from bench.stats import Figure, table

BENCHES = ("pipeline", "ingest", "freshness", "memory", "recovery", "scaleout", "scrape", "fold")
EXTRA = ("memory-year",)
"""Run only when named: longer than ``make bench``'s budget."""
WITHOUT_KAFKA = frozenset({"scrape", "fold"})


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("bench", choices=("all", *BENCHES, *EXTRA))
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--events", type=int, default=30_000, help="pipeline events")
    parser.add_argument(
        "--naive-seconds",
        type=float,
        default=45.0,
        help="time budget of the naive Faust baseline (0: skip it)",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the pipeline, recovery and memory workers (Faust or SALESPULSE_ "
        "settings), to try a configuration",
    )
    parser.add_argument("--scaleout-events", type=int, default=15_000)
    parser.add_argument("--recovery-events", type=int, default=30_000)
    parser.add_argument(
        "--memory-scale",
        type=float,
        default=0.1,
        help="fraction of the full memory scenario to build (1: all of it)",
    )
    parser.add_argument(
        "--year-events", type=int, default=200_000, help="memory-year: events over 365 days"
    )
    parser.add_argument("--year-reps", type=int, default=1_000, help="memory-year: reps")
    parser.add_argument("--year-teams", type=int, default=100, help="memory-year: teams")
    parser.add_argument(
        "--year-slice-days",
        type=int,
        default=30,
        help="memory-year: days of event time fed between two samples",
    )
    parser.add_argument("--ingest-seconds", type=float, default=10.0)
    parser.add_argument("--freshness-seconds", type=float, default=20.0)
    parser.add_argument("--freshness-rate", type=int, default=1000, help="events/s through ingest")
    parser.add_argument("--profile", type=Path, help="py-spy raw profile of the pipeline worker")
    parser.add_argument(
        "--scrape-series",
        default="100000,843000",
        help="comma-separated KPI series counts of the scrape benchmark",
    )
    parser.add_argument(
        "--fold-events",
        type=int,
        default=30_000,
        help="events of the fold microbench (the pipeline's 30k by default; try 120000)",
    )
    parser.add_argument(
        "--fold-profile",
        action="store_true",
        help="also print a cProfile top 20 (cumulative) of the fold stages, from a second pass",
    )
    return parser.parse_args(argv)


def machine() -> str:
    mem_kb = int(
        next(
            line
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ).split()[1]
    )
    return (
        f"{os.cpu_count()} CPUs, {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


async def run_one(name: str, bootstrap: str, args: argparse.Namespace) -> list[Figure]:
    env = dict(item.split("=", 1) for item in args.worker_env)
    if name == "pipeline":
        from bench import pipeline

        return await pipeline.run(bootstrap, args.events, args.profile, args.naive_seconds, env)
    if name == "ingest":
        from bench import ingest

        return await ingest.run(bootstrap, args.ingest_seconds)
    if name == "freshness":
        from bench import freshness

        return await freshness.run(bootstrap, args.freshness_seconds, args.freshness_rate)
    if name == "memory":
        from bench import memory

        return await memory.run(bootstrap, args.memory_scale, env)
    if name == "memory-year":
        from bench import memory_year
        from bench.workload import Shape

        shape = Shape(reps=args.year_reps, teams=args.year_teams)
        return await memory_year.run(bootstrap, args.year_events, shape, args.year_slice_days, env)
    if name == "recovery":
        from bench import recovery

        return await recovery.run(bootstrap, args.recovery_events, env)
    if name == "scrape":
        from bench import scrape

        sizes = tuple(int(size) for size in args.scrape_series.split(",") if size.strip())
        return await scrape.run(sizes)
    if name == "fold":
        from bench import fold

        return await fold.run(args.fold_events, args.fold_profile)
    from bench import scaleout

    return await scaleout.run(bootstrap, args.scaleout_events)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    names = BENCHES if args.bench == "all" else (args.bench,)
    figures: list[Figure] = []
    started = time.monotonic()
    failed = []
    kafka = nullcontext("") if WITHOUT_KAFKA.issuperset(names) else infra.own_broker(args.bootstrap)
    with kafka as bootstrap:
        for name in names:
            t0 = time.monotonic()
            try:
                figures += asyncio.run(run_one(name, bootstrap, args))
            except Exception as exc:  # one failed benchmark must not hide the others' figures
                failed.append(name)
                figures.append(Figure(name, "FAILED", repr(exc)[:200]))
                print(f"{name}: FAILED: {exc!r}", file=sys.stderr)
            print(f"{name}: {time.monotonic() - t0:.0f}s")
    elapsed = time.monotonic() - started
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    report = f"`{command}` on {machine()}, {elapsed / 60:.1f} min\n\n{table(figures)}\n"
    print("\n" + report)
    out = infra.WORKDIR / "results.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
