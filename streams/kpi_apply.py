"""How the apply agent reads and applies kpi-deltas: interpreted, or through the compiled core.

Why two: the apply was ~40 % of a worker's main thread during a backfill (docs/BENCHMARKS.md),
~8 µs of interpreted Python per correction. ``salespulse_native`` (the ``native/`` crate, built by
``make install``) takes the same steps on the same Python objects (day values, stock totals, live
keys), so the state, its snapshots and every reader are unchanged; the replay-model property
tests run whole workers through both (``tests/unit/streams/test_folds_replay_model.py``,
``test_retention_replay_model.py``) and ``test_kpi_apply.py`` compares them case by case. A
worker installed without it (no Rust toolchain) uses the interpreted path, and says so in its log.

Setting ``SALESPULSE_APPLY_ENGINE``: ``auto`` (compiled when installed), ``native``, ``python``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from types import ModuleType
from typing import Any, Protocol

from projections.state_types import INT_FIELDS, Carry, DayValue, HourTally, src_id_of_label
from projections.timebase import QUARTER_US, BucketGrid
from streams.apply_steps import apply_clock, apply_part
from streams.kpi_deltas import (
    LATEST_US,
    DayKpiDeltas,
    MalformedKpiDeltas,
    read_day_entries,
    read_wire_scopes,
)

NATIVE_MODULE = "salespulse_native"
OPEN_FIELDS = ("open_delta", "open_amount_delta", "open_weighted_delta")
QUARTER_LIMIT = -(-LATEST_US // QUARTER_US)
"""The first quarter-hour at or past ``LATEST_US``: every correction's quarter is below it."""

log = logging.getLogger(__name__)


class KpiApply(Protocol):
    """The apply agent's two steps: a message read and checked (``MalformedKpiDeltas`` before
    anything is applied), then a partition's corrections applied after its clock moved."""

    def read(self, value: bytes | None, partition: int, partitions: int) -> DayKpiDeltas: ...

    def apply(
        self,
        state: Any,
        partition: int,
        found: list,
        stream_times: Iterable[int | None],
        grid: BucketGrid,
        retention_days: int | None,
    ) -> None: ...


class PythonApply:
    """The interpreted path: ``read_day_entries`` and ``apply_part``."""

    def read(self, value: bytes | None, partition: int, partitions: int) -> DayKpiDeltas:
        return read_day_entries(value, partition, partitions)

    def apply(
        self,
        state: Any,
        partition: int,
        found: list,
        stream_times: Iterable[int | None],
        grid: BucketGrid,
        retention_days: int | None,
    ) -> None:
        apply_part(state, partition, found, stream_times, grid, retention_days)


class NativeApply:
    """The compiled path: the message's wire Structs read into the core's corrections (checked
    there), then applied by it onto the partition's mappings."""

    def __init__(self, native: ModuleType) -> None:
        self._core = native.DayApplier(
            list(INT_FIELDS),
            list(OPEN_FIELDS),
            HourTally,
            DayValue,
            Carry,
            src_id_of_label,
            QUARTER_LIMIT,
        )

    def read(self, value: bytes | None, partition: int, partitions: int) -> DayKpiDeltas:
        scopes, stream_us = read_wire_scopes(value, partition, partitions)
        try:
            return DayKpiDeltas(self._core.read(scopes), stream_us)
        except (TypeError, KeyError, ValueError, OverflowError) as exc:
            raise MalformedKpiDeltas(str(exc)) from None

    def apply(
        self,
        state: Any,
        partition: int,
        found: list,
        stream_times: Iterable[int | None],
        grid: BucketGrid,
        retention_days: int | None,
    ) -> None:
        clock = apply_clock(state, partition, stream_times, retention_days)
        local_day = None if grid.local_is_utc else grid.local_day_of_quarter
        self._core.apply(
            found,
            state.days(partition),
            state.stocks(partition),
            state.live_keys(partition),
            clock.horizon,
            local_day,
        )


def native_module() -> ModuleType | None:
    """The compiled core, or None when it is not installed."""
    try:
        return importlib.import_module(NATIVE_MODULE)
    except ImportError:
        return None


def kpi_apply_of(engine: str) -> KpiApply:
    """The apply path a setting names; ``auto`` falls back to the interpreted one, logged."""
    if engine == "python":
        return PythonApply()
    native = native_module()
    if native is not None:
        return NativeApply(native)
    if engine == "native":
        raise RuntimeError(
            f"SALESPULSE_APPLY_ENGINE=native but {NATIVE_MODULE} is not installed "
            "(make install builds it from native/ with cargo)"
        )
    log.warning(
        "%s is not installed: kpi-deltas are applied by the interpreted path", NATIVE_MODULE
    )
    return PythonApply()
