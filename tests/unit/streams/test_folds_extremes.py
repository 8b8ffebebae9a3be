"""Property: no event the edge accepts can crash an agent, however extreme.

Issue 13: an event of 0001-01-01 was accepted and then raised ``OverflowError`` in the apply agent
of a non-UTC deployment; won deals of 10^12 overflowed the changelog encoder. Here streams are
built from the extremes the edge accepts (the earliest and the latest instants, in local offsets
too, the largest amounts, ids of the longest length, every IANA zone), checked to be accepted by
``validate_event`` with a policy like the workers', and run through the same pure folds as the
agents (deals, customers, calls and costs, kpi-deltas encoded and decoded, bucket apply). Every
table value must survive the changelog serializer, the result must equal a recomputation, and
every window must read at the extreme ``as_of``s.
"""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import available_timezones

import faust.serializers.codecs as faust_codecs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events._fields import MAX_AMOUNT, MAX_ID_LENGTH
from events.models import EventPolicy, validate_event
from events.timestamps import EARLIEST_INSTANT, LATEST_INSTANT
from projections.readout import report
from projections.timebase import BucketGrid
from tests.support.factories import FoldTables, bucket_table_of, store_of

NOW = datetime(2026, 3, 31, 23, 55, tzinfo=UTC)
EDGE = EventPolicy(clock=lambda: NOW)
LATEST_ACCEPTED = NOW + EDGE.max_future
INSTANTS = [
    "1970-01-01T00:00:00Z",
    "1969-12-31T13:00:00-11:00",  # the same instant, as a client west of UTC writes it
    "1970-01-01T14:00:00+14:00",
    "1970-01-01T00:14:59.999999Z",
    (NOW - timedelta(microseconds=1)).isoformat(),
    LATEST_ACCEPTED.isoformat(),
    LATEST_ACCEPTED.astimezone(timezone(timedelta(hours=14))).isoformat(),
]
AS_OFS = [EARLIEST_INSTANT, NOW, LATEST_ACCEPTED, LATEST_INSTANT - timedelta(microseconds=1)]
AMOUNTS = [0, MAX_AMOUNT, float(MAX_AMOUNT), 999_999_999_999.999999, 0.000001]
ALL_ZONES = sorted(available_timezones())


def long_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number}".ljust(MAX_ID_LENGTH, "x")


REPS = [long_id("rep", n) for n in range(2)]
TEAMS = [long_id("team", n) for n in range(2)]
DEALS = [long_id("deal", n) for n in range(3)]
CUSTOMERS = [long_id("cust", n) for n in range(2)]
CHANNELS = [long_id("chan", 0)]


@st.composite
def extreme_event(draw) -> dict:
    kind = draw(
        st.sampled_from(["deal.created", "deal.updated", "deal.won", "deal.lost", "deal.reopened",
                         "call.logged", "cost.incurred"])
    )  # fmt: skip
    if kind == "call.logged":
        return {"type": kind, "rep_id": draw(st.sampled_from(REPS)),
                "team_id": draw(st.sampled_from(TEAMS))}  # fmt: skip
    if kind == "cost.incurred":
        return {"type": kind, "amount": draw(st.sampled_from(AMOUNTS)),
                "category": draw(st.sampled_from(["marketing", "sales"])),
                "team_id": draw(st.sampled_from(TEAMS)),
                "channel": draw(st.sampled_from(CHANNELS))}  # fmt: skip
    body = {"type": kind, "deal_id": draw(st.sampled_from(DEALS))}
    if kind in ("deal.created", "deal.won", "deal.updated"):
        body |= {"rep_id": draw(st.sampled_from(REPS)), "team_id": draw(st.sampled_from(TEAMS)),
                 "customer_id": draw(st.sampled_from(CUSTOMERS)),
                 "amount": draw(st.sampled_from(AMOUNTS)),
                 "channel": draw(st.sampled_from(CHANNELS))}  # fmt: skip
    return body


def bulk_of_max_wins(count: int, at: str) -> list[dict]:
    """``count`` deals of the largest amount, created and won at one instant by one team."""
    events = []
    for n in range(count):
        deal = {"deal_id": long_id("bulk", n), "rep_id": REPS[0], "team_id": TEAMS[0],
                "customer_id": long_id("bulk-cust", n), "amount": MAX_AMOUNT}  # fmt: skip
        events += [{"type": "deal.created", "occurred_at": at, **deal},
                   {"type": "deal.won", "occurred_at": at, "deal_id": deal["deal_id"]}]  # fmt: skip
    return events


@st.composite
def extreme_streams(draw) -> list[dict]:
    bodies = draw(st.lists(extreme_event(), min_size=1, max_size=25))
    stream = [{"occurred_at": draw(st.sampled_from(INSTANTS)), **body} for body in bodies]
    stream += bulk_of_max_wins(draw(st.integers(0, 25)), draw(st.sampled_from(INSTANTS)))
    stream = draw(st.permutations(stream))
    return [{"event_id": long_id("ev", n), **event} for n, event in enumerate(stream)]


def changelog_round_trip(value: object) -> object:
    """A table value through the serializer of Faust's table changelogs (``json``, orjson)."""
    return faust_codecs.loads("json", faust_codecs.dumps("json", value))


def assert_folds_encodes_and_reads(
    stream: list[dict], zone: str, batch_size: int, as_ofs: list[datetime] = AS_OFS
) -> None:
    for event in stream:
        validate_event(event, EDGE)  # every event is one the edge accepts
    batches = [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]
    tables = FoldTables(grid=BucketGrid(zone)).feed_batches(batches)
    for table in (tables.deals, tables.customer_rows, tables.seen, tables.bucket_rows):
        assert changelog_round_trip(table) == table
    store = store_of(stream, zone)
    assert tables.buckets == bucket_table_of(store)
    for key in sorted(store.keys()):
        for as_of in as_ofs:
            windows = report(tables.lookup, key, as_of, tables.grid)
            assert windows == report(store.lookup, key, as_of, store.grid)
            orjson.dumps(windows)  # what /v1/kpis answers


@settings(max_examples=150, deadline=None, database=None)
@given(
    stream=extreme_streams(),
    zone=st.sampled_from(ALL_ZONES),
    batch_size=st.sampled_from([1, 3, 1000]),
)
def test_any_stream_of_extreme_accepted_events_folds_encodes_and_reads_in_any_zone(
    stream, zone, batch_size
):
    assert_folds_encodes_and_reads(stream, zone, batch_size)


EXTREME_STREAM = [
    {"event_id": long_id("ev", n), "occurred_at": at, **body}
    for n, (at, body) in enumerate(
        [
            (INSTANTS[1], {"type": "deal.created", "deal_id": DEALS[0], "rep_id": REPS[0],
                           "team_id": TEAMS[0], "customer_id": CUSTOMERS[0],
                           "amount": MAX_AMOUNT, "channel": CHANNELS[0]}),
            (INSTANTS[0], {"type": "deal.won", "deal_id": DEALS[0]}),
            (INSTANTS[5], {"type": "deal.reopened", "deal_id": DEALS[0]}),
            (INSTANTS[2], {"type": "call.logged", "rep_id": REPS[1], "team_id": TEAMS[1]}),
            (INSTANTS[6], {"type": "cost.incurred", "amount": MAX_AMOUNT, "category": "sales",
                           "team_id": TEAMS[0], "channel": CHANNELS[0]}),
        ]
    )
]  # fmt: skip


@pytest.mark.parametrize("zone", ALL_ZONES)
def test_the_earliest_and_latest_accepted_events_fold_in_every_zone(zone):
    as_ofs = [EARLIEST_INSTANT, LATEST_ACCEPTED]  # windows holding the earliest and latest events
    assert_folds_encodes_and_reads(EXTREME_STREAM, zone, batch_size=2, as_ofs=as_ofs)


def test_nineteen_max_deals_won_at_the_latest_accepted_instant_fold_in_the_farthest_zones():
    stream = EXTREME_STREAM + [
        {"event_id": long_id("bulk-ev", n), **event}
        for n, event in enumerate(bulk_of_max_wins(19, INSTANTS[5]))
    ]
    for zone in ("Pacific/Kiritimati", "America/Adak", "Etc/GMT+12"):
        assert_folds_encodes_and_reads(stream, zone, batch_size=7)
