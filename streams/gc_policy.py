"""How a worker's garbage collector runs: start-up objects frozen, young collections 70x rarer.

Why: with CPython's defaults (a young collection every 700 container allocations) a backfill
spent ~2.6 s of its ~20 s of main thread in the cyclic collector (100k events: ~9,600
collections, 45 of them full ones over every object of Faust, aiokafka, pydantic and the app).
Almost everything a batch allocates dies young and by reference count (messages, events, decoded
values), so rarer young collections find the same garbage at a fraction of the cost, and objects
built at start-up, alive until exit, need never be scanned again (``gc.freeze``). Measured:
collector time 2.6 s -> 0.2 s and 1.2x the fold rate (docs/BENCHMARKS.md); cycles are still
collected, only later, so memory is bounded the same way.
"""

from __future__ import annotations

import gc

OLDER_GENERATIONS = (20, 10)
"""Young collections between two middle ones, middle ones between two full ones."""


def tune_collector(young_threshold: int) -> None:
    """Freeze what start-up built and space young collections ``young_threshold`` allocations
    apart (setting ``worker_gc_young_threshold``; 0 leaves CPython's defaults). Call once the
    app is built, before it runs."""
    if young_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, *OLDER_GENERATIONS)
