"""What a quiet ``replay_model.Worker`` must satisfy; each check returns its differences.

Why several checks and not just the end result: ``kpi_differences`` is the contract (every KPI of
every key, six windows, several as_of, equals ``projections.recompute``), ``resend_differences``
and ``calm_differences`` are I3 on the wire (a replay re-sends exactly what the first processing
sent, and what a run without crashes sends), and
``apply_differences`` is I4 (the day values hold every distinct correction once, and their marks
name, per src, the last one) so a failure says which invariant broke, not only that one did.
"""

from __future__ import annotations

from datetime import datetime

from projections import day_readout
from projections.day_values import HOURS_PER_DAY, apply_day_batch, day_entries_of
from projections.kpis import OpenStock
from projections.readout import BucketStore
from projections.state_types import DayValue, Source, SourceKind
from streams.corrections import Correction
from streams.customer_wins import decode_customer_wins
from streams.kpi_deltas import decode_kpi_deltas
from tests.support.replay_model import Worker

Origin = tuple[str, Source, int]  # (scope key, src, offset)


def kpi_differences(worker: Worker, expected: BucketStore, as_ofs: list[datetime]) -> list[str]:
    """Every reported KPI, read from the day values, against the recomputation ``expected``."""
    tables = worker.agents["apply-kpis"].tables
    days, stocks = tables["days"], tables["stocks"]

    def read_day(key: str, day: int) -> DayValue | None:
        return days.get((key, day))

    def open_stock(key: str, end_hour: int) -> OpenStock:
        first = end_hour // HOURS_PER_DAY
        later = sorted((d, v) for (k, d), v in days.items() if k == key and d >= first)
        return day_readout.open_stock(stocks.get(key), later, end_hour)

    problems = []
    keys = set(worker.agents["apply-kpis"].tables["live_keys"]) | expected.keys()
    for now in as_ofs:
        for key in sorted(keys):
            got = day_readout.report(read_day, key, now, worker.grid, open_stock)
            want = expected.report(key, now)
            if got != want:
                problems.append(f"{key} at {now.isoformat()}: {got} != {want}")
    return problems


def sent_corrections(worker: Worker) -> list[tuple[Origin, list]]:
    """Every correction on kpi-deltas, in log order per partition, as (origin, quarters)."""
    sent = []
    for partition, records in enumerate(worker.logs["kpi-deltas"].partitions):
        for _, value in records:
            for scope_key, entries in decode_kpi_deltas(value, partition, worker.partitions):
                for (src, offset), quarters in _origins(entries).items():
                    sent.append(((scope_key, src, offset), quarters))
    return sent


def _origins(entries: list[Correction]) -> dict[tuple[str, int], list]:
    by_origin: dict[tuple[str, int], list] = {}
    for src, offset, quarter, tally in entries:
        by_origin.setdefault((src, offset), []).append((quarter, tally))
    return by_origin


def resend_differences(worker: Worker) -> list[str]:
    """I3: each correction and each customer-win change is identical every time it is sent."""
    problems = []
    first: dict[Origin, list] = {}
    for origin, quarters in sent_corrections(worker):
        prior = first.setdefault(origin, quarters)
        if _wire(prior) != _wire(quarters):
            problems.append(f"correction {origin} re-sent as {quarters}, first {prior}")
    wins: dict[tuple, object] = {}
    for customer_id, deal_id, source_offset, win in _sent_win_changes(worker):
        prior = wins.setdefault((customer_id, deal_id, source_offset), win)
        if prior != win:
            problems.append(f"win of {deal_id}@{source_offset} re-sent as {win}, first {prior}")
    return problems


def _sent_win_changes(worker: Worker) -> list[tuple]:
    """Every win change sent on customer-wins, in log order, whatever message carried it."""
    log = worker.logs["customer-wins"].partitions
    return [
        (c.customer_id, c.deal_id, c.source_offset, c.win)
        for p, records in enumerate(log)
        for offset, (key, value) in enumerate(records)
        for c in decode_customer_wins(key.encode(), value, offset, p, len(log))
    ]


def calm_differences(worker: Worker, calm: Worker) -> list[str]:
    """I3 against a run without crashes over the same logs: the event folds sent the same set of
    distinct corrections (tagged with event offsets) and of distinct customer-win changes.

    Customer corrections are left out: their offsets are positions on customer-wins, which
    replays lengthen. A correction only a replay sends, or one it forgets, shows here even when
    the marks happen to hide it from the buckets.
    """
    problems = []
    got, want = _event_corrections(worker), _event_corrections(calm)
    for origin in sorted(set(got) | set(want)):
        if got.get(origin) != want.get(origin):
            problems.append(f"correction {origin}: {got.get(origin)} != {want.get(origin)}")
    for change in sorted(_win_changes(worker) ^ _win_changes(calm)):
        problems.append(f"win change {change} sent by one run only")
    return problems


def _event_corrections(worker: Worker) -> dict[Origin, list]:
    sent = dict(reversed(sent_corrections(worker)))
    return {
        o: _wire(quarters) for o, quarters in sent.items() if o[1].kind is not SourceKind.CUSTOMER
    }


def _win_changes(worker: Worker) -> set[tuple]:
    return set(_sent_win_changes(worker))


def _wire(quarters: list) -> list:
    return [(quarter, tally.to_json()) for quarter, tally in quarters]


def apply_differences(worker: Worker) -> list[str]:
    """I4: each day value = its distinct corrections applied once, marks = their last position
    per src.

    Duplicates on kpi-deltas (replays) must have left no trace: a correction applied twice, or
    one skipped, changes the hours; a mark missing or too high shows in the marks. The expected
    values apply each distinct correction once, per src in offset order (as marks need).
    """
    wanted: dict = {}
    distinct = dict(reversed(sent_corrections(worker)))  # the first sending of each origin
    for (scope_key, src, offset), quarters in sorted(distinct.items(), key=_by_src_offset):
        entries = [(src, offset, quarter, tally) for quarter, tally in quarters]
        apply_day_batch(wanted, [(scope_key, day_entries_of(entries))], worker.grid)
    held = dict(worker.agents["apply-kpis"].tables["days"].items())
    problems = [f"day {key}: held but never sent" for key in sorted(set(held) - set(wanted))]
    for key, value in sorted(wanted.items()):
        if held.get(key) != value:
            problems.append(f"day {key}: {held.get(key)} != {value}")
    return problems


def _by_src_offset(item: tuple[Origin, list]) -> tuple[str, int]:
    (_, src, offset), _ = item
    return src, offset
