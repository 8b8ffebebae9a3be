"""Day values v2: idempotent apply by marks, local-day parts, and the six-window readout, which
must equal today's readout of the ``h``/``d``/``l`` buckets fed the same corrections."""

from collections.abc import Iterator, MutableMapping
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections import readout
from projections.day_readout import first_day_read, report, window_totals
from projections.day_values import DayKey, apply_day_batch
from projections.state_types import DayValue, HourTally, codec_of, hour_tally_of, src_id_of_label
from projections.tally import COUNT_FIELDS, Tally
from projections.timebase import (
    DAY_US,
    HOUR_US,
    QUARTER_US,
    BucketGrid,
    day_index,
    from_us,
    to_us,
    utc_offset_us,
)
from projections.windows import WINDOWS
from tests.support.factories import ts
from tests.support.grid_buckets import apply_kpi_batch, bucket_key

ZONES = ["UTC", "Europe/Paris", "Asia/Kathmandu", "Pacific/Chatham"]
FIRST_DAY = day_index(date(2026, 1, 20))
"""With SPAN_DAYS: two quarter ends, Paris' and Chatham's DST changes, five month ends."""
SPAN_DAYS = 120
KEYS = ["rep|r-0", "rep|r-1", "team|t-0", "company|", "channel|email"]
SOURCES = ["d0", "d1", "k0", "x0", "c0"]
BIG = 19 * 10**12 * 10**6
REP = "rep|r-0"
DEAL = src_id_of_label("d0")


class EncodedDays(MutableMapping):
    """Day values stored as bytes, as a store would: every write and read goes through the codec."""

    def __init__(self) -> None:
        self.rows: dict[DayKey, bytes] = {}

    def __getitem__(self, key: DayKey) -> DayValue:
        return codec_of(DayValue).decode(self.rows[key])

    def __setitem__(self, key: DayKey, value: DayValue) -> None:
        self.rows[key] = codec_of(DayValue).encode(value)

    def __delitem__(self, key: DayKey) -> None:
        del self.rows[key]

    def __iter__(self) -> Iterator[DayKey]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def read(self, key: str, day: int) -> DayValue | None:
        return self.get((key, day))


def quarter_at(text: str) -> int:
    return to_us(ts(text)) // QUARTER_US


def apply(days, entries, zone: str = "UTC") -> list[DayKey]:
    return apply_day_batch(days, [(REP, entries)], BucketGrid(zone))


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu"])
def test_a_replayed_or_older_position_of_a_src_changes_nothing(zone):
    days: dict = {}
    quarter = quarter_at("2026-03-10T09:00:00Z")
    apply(days, [(DEAL, 7, quarter, HourTally(calls=1))], zone)
    before = codec_of(DayValue).encode(days[REP, quarter // 96])
    replay = [(DEAL, 7, quarter, HourTally(calls=1)), (DEAL, 5, quarter, HourTally(calls=1))]
    apply(days, replay, zone)
    assert codec_of(DayValue).encode(days[REP, quarter // 96]) == before


def test_two_quarters_of_one_position_in_one_day_both_count():
    days: dict = {}
    first, second = quarter_at("2026-03-10T09:00:00Z"), quarter_at("2026-03-10T17:45:00Z")
    apply(days, [(DEAL, 7, first, HourTally(calls=1)), (DEAL, 7, second, HourTally(calls=2))])
    value = days[REP, first // 96]
    assert value.hours == {9: HourTally(calls=1), 17: HourTally(calls=2)}
    assert value.marks == {DEAL: 7}


def test_each_day_value_and_each_src_keeps_its_own_mark():
    days: dict = {}
    today, tomorrow = quarter_at("2026-03-10T09:00:00Z"), quarter_at("2026-03-11T09:00:00Z")
    call = src_id_of_label("k0")
    touched = apply(
        days,
        [
            (DEAL, 7, today, HourTally(calls=1)),
            (DEAL, 7, tomorrow, HourTally(calls=1)),
            (call, 3, today, HourTally(calls=4)),
        ],
    )
    assert touched == [(REP, today // 96), (REP, tomorrow // 96)]
    assert days[REP, today // 96].marks == {DEAL: 7, call: 3}
    assert days[REP, tomorrow // 96].marks == {DEAL: 7}
    assert days[REP, today // 96].hours == {9: HourTally(calls=5)}


def test_a_retraction_removes_the_hour_but_keeps_the_mark():
    days: dict = {}
    quarter = quarter_at("2026-03-10T09:00:00Z")
    won = HourTally(deals_won=1, revenue=BIG, reps={"r-0": 1}, customers={"c-1": 1})
    retracted = HourTally(deals_won=-1, revenue=-BIG, reps={"r-0": -1}, customers={"c-1": -1})
    apply(days, [(DEAL, 1, quarter, won)])
    apply(days, [(DEAL, 2, quarter, retracted)])
    assert days[REP, quarter // 96] == DayValue(marks={DEAL: 2})


@pytest.mark.parametrize(
    ("zone", "at", "local"),
    [
        ("UTC", "2026-03-10T18:00:00Z", {}),
        ("Asia/Kathmandu", "2026-03-10T18:00:00Z", {"2026-03-10": 1}),
        ("Asia/Kathmandu", "2026-03-10T18:15:00Z", {"2026-03-11": 1}),
        ("Pacific/Chatham", "2026-03-10T10:00:00Z", {"2026-03-10": 1}),
        ("Pacific/Chatham", "2026-03-10T10:15:00Z", {"2026-03-11": 1}),
        ("Europe/Paris", "2026-03-10T23:00:00Z", {"2026-03-11": 1}),
    ],
)
def test_a_quarter_lands_in_its_hour_and_in_the_local_day_it_starts_in(zone, at, local):
    days: dict = {}
    quarter = quarter_at(at)
    apply(days, [(DEAL, 1, quarter, HourTally(calls=1))], zone)
    value = days[REP, quarter // 96]
    assert value.hours == {quarter // 4 % 24: HourTally(calls=1)}
    expected = {day_index(date.fromisoformat(d)): HourTally(calls=n) for d, n in local.items()}
    assert value.local == expected


@pytest.mark.parametrize(
    ("window", "as_of", "calls"),
    [
        ("1h", "2026-03-31T18:59:59Z", 3),
        ("1h", "2026-03-31T19:00:00Z", 0),
        ("24h", "2026-04-01T17:00:00Z", 3),
        ("7d", "2026-03-31T12:00:00Z", 3),
        ("mtd", "2026-03-31T18:14:59Z", 1),
        ("mtd", "2026-03-31T18:15:00Z", 2),
        ("qtd", "2026-03-31T18:15:00Z", 2),
    ],
)
def test_a_window_of_a_kathmandu_day_split_inside_an_hour_counts_each_part(window, as_of, calls):
    days: dict = {}
    entries = [
        (DEAL, 1, quarter_at("2026-03-31T18:00:00Z"), HourTally(calls=1)),
        (DEAL, 2, quarter_at("2026-03-31T18:30:00Z"), HourTally(calls=2)),
    ]
    apply(days, entries, "Asia/Kathmandu")
    totals = window_totals(
        lambda k, d: days.get((k, d)), REP, window, ts(as_of), BucketGrid("Asia/Kathmandu")
    )
    assert totals.counts.get("calls", 0) == calls


@pytest.mark.parametrize(
    "zone", ["UTC", "Asia/Kathmandu", "America/Los_Angeles", "Pacific/Kiritimati"]
)
@pytest.mark.parametrize(
    "as_of",
    [
        "2026-03-10T12:00:00Z",
        "2026-01-01T00:05:00Z",
        "2026-03-31T23:59:00Z",
        "2026-07-01T10:00:00Z",
    ],
)
def test_no_window_of_a_report_reads_a_day_before_the_first_day_read(zone, as_of):
    read: list[int] = []

    def record(key: str, day: int) -> None:
        read.append(day)

    grid = BucketGrid(zone)
    for window in WINDOWS:
        window_totals(record, REP, window, ts(as_of), grid)
    assert min(read) == first_day_read(ts(as_of), grid)


def test_a_key_without_any_day_value_in_reach_is_not_reported():
    assert report(lambda key, day: None, REP, ts("2026-03-10T12:00:00Z"), BucketGrid()) is None


# The property: day values read like today's grids, for any corrections in I4 order.


def tallies() -> st.SearchStrategy[Tally]:
    def build(counts, reps, customers) -> Tally:
        tally = Tally()
        for name, delta in counts:
            tally.count(name, delta)
        for rep, delta in reps:
            tally.rep(rep, delta)
        for customer, delta in customers:
            tally.customer(customer, delta)
        return tally

    deltas = st.sampled_from([-2, -1, 1, 1, 2, 3, BIG])
    return st.builds(
        build,
        st.lists(st.tuples(st.sampled_from(COUNT_FIELDS), deltas), max_size=3),
        st.lists(
            st.tuples(st.sampled_from(["r-0", "r-1", "r-2"]), st.sampled_from([-1, 1])), max_size=2
        ),
        st.lists(st.tuples(st.sampled_from(["c-0", "c-1"]), st.sampled_from([-1, 1])), max_size=2),
    )


def local_midnight_quarter(zone: str, day: int) -> int:
    """Roughly the UTC quarter a local day starts at: where quarters split between local days."""
    return (day * DAY_US - utc_offset_us(BucketGrid(zone).tz, day * DAY_US)) // QUARTER_US


def quarters(zone: str) -> st.SearchStrategy[int]:
    anywhere = st.integers(FIRST_DAY * 96, (FIRST_DAY + SPAN_DAYS) * 96 - 1)
    near_midnight = st.builds(
        lambda day, delta: local_midnight_quarter(zone, day) + delta,
        st.integers(FIRST_DAY, FIRST_DAY + SPAN_DAYS),
        st.integers(-6, 6),
    )
    return st.one_of(anywhere, near_midnight)


@st.composite
def groups(draw, zone: str) -> tuple[str, list[tuple[int, Tally]]]:
    """What one input caused for one scope key: one to three quarters, often in one day."""
    first = draw(quarters(zone))
    others = draw(
        st.lists(st.one_of(st.integers(-8, 8).map(first.__add__), quarters(zone)), max_size=2)
    )
    return draw(st.sampled_from(KEYS)), [(q, draw(tallies())) for q in [first, *others]]


@st.composite
def deliveries(draw, zone: str) -> list[list[tuple]]:
    """Batches of sends ``(src, position, key, quarters)``: per src new positions in increasing
    order, interleaved with replays of a suffix and duplicates of one earlier send (I4)."""
    logs = {src: [] for src in SOURCES}
    sends: list[tuple] = []
    for src, action, pick in draw(
        st.lists(
            st.tuples(
                st.sampled_from(SOURCES),
                st.sampled_from(["new"] * 4 + ["replay", "dup"]),
                st.integers(0, 50),
            ),
            min_size=8,
            max_size=50,
        )
    ):
        log = logs[src]
        if action == "new" or not log:
            position = (log[-1][1] if log else -1) + 1 + pick % 3
            log.append((src, position, *draw(groups(zone))))
            sends.append(log[-1])
        elif action == "replay":
            sends.extend(log[max(0, len(log) - 1 - pick % 4) :])
        else:
            sends.append(log[pick % len(log)])
    sizes = draw(st.lists(st.integers(1, 8), min_size=len(sends), max_size=len(sends)))
    batches, start = [], 0
    for size in sizes:
        if start < len(sends):
            batches.append(sends[start : start + size])
        start += size
    return batches


def as_of_instants(batches: list[list[tuple]]) -> st.SearchStrategy[datetime]:
    """Instants near the corrections (so 1h and 24h see them), anywhere, or at period starts."""
    quarters_sent = sorted({q for batch in batches for send in batch for q, _ in send[3]})
    near = st.builds(
        lambda q, later: from_us(q * QUARTER_US + later),
        st.sampled_from(quarters_sent),
        st.integers(0, 30 * HOUR_US),
    )
    anywhere = st.integers(FIRST_DAY * DAY_US, (FIRST_DAY + SPAN_DAYS + 10) * DAY_US).map(from_us)
    return st.one_of(near, anywhere)


def totals_view(totals) -> tuple:
    counts = {name: value for name, value in totals.counts.items() if value}
    return counts, totals.reps, totals.customers, totals.touched


@pytest.mark.parametrize("zone", ZONES)
@settings(max_examples=40, deadline=None, database=None)
@given(data=st.data())
def test_day_values_read_every_window_like_todays_grids_fed_the_same_corrections(zone, data):
    grid = BucketGrid(zone)
    batches = data.draw(deliveries(zone))
    buckets: dict[str, list] = {}
    days = EncodedDays()
    for batch in batches:
        todays = [(key, [(src, pos, q, t) for q, t in qs]) for src, pos, key, qs in batch]
        apply_kpi_batch(buckets, {}, todays, grid)
        ours = [
            (key, [(src_id_of_label(src), pos, q, hour_tally_of(t)) for q, t in qs])
            for src, pos, key, qs in batch
        ]
        apply_day_batch(days, ours, grid)

    def lookup(key: str, grid_name: str, index: int) -> Tally | None:
        raw = buckets.get(bucket_key(key, grid_name, index))
        return None if raw is None else Tally.from_json(raw)

    for now in data.draw(st.lists(as_of_instants(batches), min_size=3, max_size=3)):
        for key in KEYS:
            for window in WINDOWS:
                assert totals_view(window_totals(days.read, key, window, now, grid)) == (
                    totals_view(readout.window_totals(lookup, key, window, now, grid))
                ), (key, window, now)
            assert report(days.read, key, now, grid) == readout.report(lookup, key, now, grid)
