"""The compiled apply path against the interpreted one (``streams.kpi_apply``), case by case.

The replay-model property tests run whole workers through both; these pin the edges each path
handles on its own: sums beyond 64 bits, zones whose local days split an hour, retractions that
empty a part, days beyond the horizon with stock changes, a replayed message, and which path a
setting gives.
"""

from types import SimpleNamespace

import pytest

from projections.effects import QuarterHourCorrections
from projections.state_types import Source, SourceKind
from projections.timebase import BucketGrid
from streams import kpi_apply
from streams.corrections import Corrections
from streams.kpi_apply import NativeApply, PythonApply, kpi_apply_of
from streams.kpi_deltas import encode_kpi_deltas
from tests.support.agent_fakes import DictState
from tests.support.apply_engines import kpi_apply_named
from tests.support.factories import us

PARTITIONS = 2


def corrections_of(*changes: tuple) -> Corrections:
    """Corrections from ``(source partition, offset, scope key, instant, count, delta)``; a
    count named ``rep:<id>`` or ``customer:<id>`` changes that multiset member instead."""
    corrections = Corrections()
    for partition, offset, key, at, name, delta in changes:
        caused = QuarterHourCorrections()
        tally = caused.at(key, us(at) // 900_000_000)
        if name.startswith("rep:"):
            tally.rep(name[4:], delta)
        elif name.startswith("customer:"):
            tally.customer(name[9:], delta)
        else:
            tally.count(name, delta)
        corrections.add(Source.of(SourceKind.DEAL, partition), offset, caused.spreads())
    return corrections


def applied(
    engine: str, batches: list[Corrections], zone: str = "UTC", retention: int | None = None
) -> dict:
    """Every table of a state after each batch's messages were read and applied by ``engine``,
    the batch's stream time at its latest instant."""
    path, state, grid = kpi_apply_named(engine), DictState(), BucketGrid(zone)
    for batch, stream_us in batches:
        for message in encode_kpi_deltas(batch.items(), PARTITIONS, stream_us=stream_us):
            read = path.read(message.value, message.partition, PARTITIONS)
            times = [read.stream_us]
            path.apply(state, message.partition, read.scopes, times, grid, retention)
    return state.tables


def both(batches: list, **options) -> dict:
    python, native = applied("python", batches, **options), applied("native", batches, **options)
    assert native == python
    return native


def test_sums_beyond_64_bits_are_applied_exactly_by_both_paths():
    big = 10**40
    tables = both(
        [
            (corrections_of((0, 1, "company|", "2026-02-12T10:00:00Z", "revenue", big)), None),
            (corrections_of((0, 2, "company|", "2026-02-12T10:20:00Z", "revenue", big)), None),
        ]
    )
    [value] = [v for (name, _), t in tables.items() if name == "days" for v in t.values()]
    assert value.hours[10].revenue == 2 * big


@pytest.mark.parametrize("zone", ["Asia/Kathmandu", "America/New_York"])
def test_local_day_parts_of_a_zone_off_utc_are_the_same_on_both_paths(zone):
    changes = [
        (0, i, f"rep|r{i % 3}", f"2026-02-12T{h:02d}:{m:02d}:00Z", "calls", 1)
        for i, (h, m) in enumerate([(18, 0), (18, 15), (18, 30), (23, 45), (4, 45), (5, 0)])
    ]
    tables = both([(corrections_of(*changes), None)], zone=zone)
    values = [v for (name, _), t in tables.items() if name == "days" for v in t.values()]
    assert sum(len(value.local) for value in values) >= 2


def test_a_retraction_that_empties_a_part_removes_it_on_both_paths():
    tables = both(
        [
            (
                corrections_of(
                    (0, 1, "rep|r1", "2026-02-12T09:00:00Z", "calls", 1),
                    (0, 1, "rep|r1", "2026-02-12T09:00:00Z", "rep:r1", 1),
                    (0, 2, "rep|r1", "2026-02-12T09:10:00Z", "calls", -1),
                    (0, 2, "rep|r1", "2026-02-12T09:10:00Z", "rep:r1", -1),
                    (0, 3, "rep|r1", "2026-02-12T11:00:00Z", "customer:c1", 1),
                ),
                None,
            )
        ]
    )
    [(_, value)] = [
        (k, v) for (name, _), t in tables.items() if name == "days" for k, v in t.items()
    ]
    assert list(value.hours) == [11]
    assert value.hours[11].customers == {"c1": 1}


def test_days_beyond_the_horizon_are_dropped_but_their_stock_changes_kept_on_both_paths():
    old = corrections_of(
        (0, 5, "team|t1", "2025-10-01T09:00:00Z", "open_delta", 1),
        (1, 6, "team|t2", "2025-10-01T09:00:00Z", "calls", 1),
    )
    tables = both([(old, us("2026-02-12T12:00:00Z"))], retention=100)
    assert all(not t for (name, _), t in tables.items() if name == "days")
    stocks = {k: v for (name, _), t in tables.items() if name == "stocks" for k, v in t.items()}
    assert stocks["team|t1"].open_deals == 1
    live = {k for (name, _), t in tables.items() if name == "keys" for k in t}
    assert live == {"team|t1"}


def test_a_replayed_message_changes_nothing_on_either_path():
    batch = corrections_of(
        (0, 7, "company|", "2026-02-12T09:00:00Z", "deals_won", 1),
        (0, 7, "company|", "2026-02-12T09:00:00Z", "open_delta", -1),
        (1, 3, "company|", "2026-02-13T01:00:00Z", "calls", 2),
    )
    once = both([(batch, None)])
    assert both([(batch, None), (batch, None)]) == once


def test_a_setting_of_python_gives_the_interpreted_path():
    assert isinstance(kpi_apply_of("python"), PythonApply)


def test_auto_and_native_give_the_compiled_path_when_it_is_installed():
    assert isinstance(kpi_apply_of("auto"), NativeApply)
    assert isinstance(kpi_apply_of("native"), NativeApply)


def test_without_the_compiled_core_auto_falls_back_and_native_refuses_to_start(monkeypatch, caplog):
    monkeypatch.setattr(kpi_apply, "native_module", lambda: None)
    assert isinstance(kpi_apply_of("auto"), PythonApply)
    assert "not installed" in caplog.text
    with pytest.raises(RuntimeError, match="make install"):
        kpi_apply_of("native")


def test_the_compiled_read_refuses_a_count_that_is_not_an_integer():
    path = kpi_apply_named("native")
    wire = SimpleNamespace(
        source="d0", offset=1, quarter=1000, counts={"calls": "1"}, reps={}, customers={}
    )
    with pytest.raises(TypeError):
        path._core.read([SimpleNamespace(scope_key="company|", corrections=[wire])])
