"""``salespulse rebuild``: the log recomputed from scratch, and KPI sets compared (pure).

The recomputation is contract section 2's batch computation (``projections.recompute``) over the
records of the three event topics, each partition in offset order (a deal's events share a
partition, so their arrival order is kept). A record the workers would dead-letter is skipped
(``streams.pipeline.placed_event``): the same gate, the same policy (rates included).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from events.models import EventPolicy, InvalidEvent
from events.topics import TopicNames
from projections.effects import split_scope_key
from projections.kpis import derive_kpis
from projections.readout import BucketStore, read_kpis
from projections.recompute import recompute
from projections.tally import WindowTotals
from projections.timebase import BucketGrid
from projections.windows import WINDOWS
from streams.pipeline import placed_event

KpiSet = Mapping[str, Mapping[str, float | int]]
"""``scope|id|window`` -> KPIs, as in golden/expected.json."""

DIFF_COLUMNS = ["key", "kpi", "left", "right"]


def recompute_log(
    records: Iterable[Any], policy: EventPolicy, names: TopicNames, grid: BucketGrid
) -> tuple[BucketStore, Counter]:
    """Buckets of the valid records (``topic``, ``key``, ``value``), and skipped ones by field."""
    events, skipped = [], Counter()
    for record in records:
        try:
            events.append(placed_event(record.topic, record.key, record.value, policy, names))
        except InvalidEvent as exc:
            skipped[exc.reasons[0].split(":", 1)[0]] += 1
    return recompute(events, grid, policy.rates), skipped


def no_kpis(scope: str) -> dict[str, float | int]:
    """What a key without any contribution reads: additive KPIs 0, ratios absent."""
    return derive_kpis(scope, WindowTotals())


def offline_kpis(store: BucketStore, keys: Iterable[str], as_of: datetime) -> dict[str, dict]:
    """Every window of ``keys`` (``scope|id``) read from the recomputed buckets."""
    return {
        f"{key}|{window}": read_kpis(store.lookup, key, window, as_of, store.grid, store.open_stock)
        for key in sorted(keys)
        for window in WINDOWS
    }


def kpi_differences(left: KpiSet, right: KpiSet, rel_tol: float = 1e-9) -> list[list]:
    """Rows (key, kpi, left value, right value) where the two sets disagree.

    A key on one side only is compared with no contribution at all (``no_kpis``); a KPI present on
    one side only (a ratio with a zero denominator) differs; numbers compare with ``rel_tol``.
    """
    rows = []
    for key in sorted(set(left) | set(right)):
        scope = split_scope_key(key.rsplit("|", 1)[0])[0]
        mine = left.get(key, no_kpis(scope))
        theirs = right.get(key, no_kpis(scope))
        for name in sorted(set(mine) | set(theirs)):
            a, b = mine.get(name), theirs.get(name)
            if not _same(a, b, rel_tol):
                rows.append([key, name, a, b])
    return rows


def _same(a: float | int | None, b: float | int | None, rel_tol: float) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-12)
