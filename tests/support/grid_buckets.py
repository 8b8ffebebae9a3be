"""The v1 bucket grids as the folds' tests read them: ``apply_kpi_batch`` and its keys.

Workers apply corrections to day values (``projections.day_values``); the fold tests still read
their corrections through today's three grids (``h``, ``d``, ``l``), which
``projections.readout.BucketStore`` (the recompute) also keeps, so a fold's output is compared
bucket for bucket with a recomputation. ``tests/unit/projections/test_day_values.py`` shows both
readings agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping

from projections.readout import bucket_updates
from projections.tally import Tally
from projections.timebase import BucketGrid
from streams.corrections import Correction
from streams.routing import composite_key


def bucket_key(scope_key: str, grid_name: str, index: int) -> str:
    return composite_key(scope_key, grid_name, index)


def apply_kpi_batch(
    buckets: MutableMapping[str, list],
    live_keys: MutableMapping[str, int],
    corrections: Iterable[tuple[str, list[Correction]]],
    grid: BucketGrid,
) -> None:
    """Apply offset-tagged corrections to the time buckets, each (src, offset) at most once.

    A bucket is stored as ``[counts, reps, customers, marks]`` where ``marks`` maps each src to
    the highest offset applied. Buckets are kept when their tally cancels out: their marks still
    guard against a replay. ``live_keys`` lists every scope key that ever had a bucket.
    """
    touched: dict[str, tuple[Tally, dict[str, int]]] = {}
    for scope_key, entries in corrections:
        if scope_key not in live_keys:
            live_keys[scope_key] = 1
        for (src, offset), quarters in _by_origin(entries):
            for (grid_name, index), update in bucket_updates(quarters, grid).items():
                key = bucket_key(scope_key, grid_name, index)
                if key not in touched:
                    raw = buckets.get(key)
                    touched[key] = (
                        Tally.from_json(raw),
                        dict(raw[3]) if raw and len(raw) > 3 else {},
                    )
                tally, marks = touched[key]
                if offset > marks.get(src, -1):
                    tally.add(update)
                    marks[src] = offset
    for key, (tally, marks) in touched.items():
        buckets[key] = [*tally.to_json(), marks]


def _by_origin(
    entries: list[Correction],
) -> Iterator[tuple[tuple[str, int], list[tuple[int, Tally]]]]:
    """Consecutive entries of one (src, offset), as the quarter corrections they carry."""
    group: list[tuple[int, Tally]] = []
    origin: tuple[str, int] | None = None
    for src, offset, quarter, tally in entries:
        if (src, offset) != origin:
            if group:
                yield origin, group
            origin, group = (src, offset), []
        group.append((quarter, tally))
    if group:
        yield origin, group
