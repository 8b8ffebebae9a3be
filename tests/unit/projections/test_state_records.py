"""Typed deal, customer, seen and meta records: their bytes round-trip (ints past 64 bits, values
of earlier and later formats), and today's JSON table values convert to them and back unchanged,
so the v2 folds can be checked value for value against today's."""

from datetime import UTC, datetime, timedelta

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.deal import DealEvent, DealEventKind, fold_deal
from projections.state_legacy import (
    LegacyShapeError,
    customer_record_from_json,
    customer_record_to_json,
    deal_record_from_json,
    deal_record_to_json,
    seen_days_from_json,
    seen_entries_to_json,
    seen_entry_key,
)
from projections.state_records import (
    ATTRIBUTE_NAMES,
    KIND_NAMES,
    CustomerRecord,
    DealAttrs,
    DealEventRecord,
    DealRecord,
    DealStatus,
    DealSummary,
    PartitionMeta,
    SeenDay,
    WinState,
    customer_win_of,
    deal_attrs_of,
    deal_event_of_record,
    deal_state_of,
    decode_record,
    encode_record,
    record_of_deal_event,
    summary_of,
    win_state_of,
)
from projections.state_types import FORMAT, StateFormatError, codec_of
from projections.timebase import to_us
from streams.routing import composite_key
from tests.support.factories import FoldTables, event_streams, validated

BIG = 2**75
"""A customer-wins position past int64: offset 2^63 - 1 times 4096, the largest one possible."""
CREATED_ATTRS = DealAttrs(
    "rep-0042", "team-07", "cust-01234", 12_345_000_000, "email", "enterprise", 0.35
)
SUMMARY = DealSummary(DealStatus.LOST, 1, None, 3, CREATED_ATTRS, ["ev-1", "ev-2"], 2, 3)
START = datetime(2026, 3, 31, 21, 0, tzinfo=UTC)
INSTANTS = [(START + timedelta(hours=7 * i)).isoformat() for i in range(12)]

ids = st.text(min_size=1, max_size=8) | st.sampled_from(["d-1", "a\x00b", "ü"])
micros = st.integers(-(2**70), 2**70) | st.integers(0, 10**18)
attr_values = {
    "rep_id": ids,
    "team_id": ids,
    "customer_id": ids,
    "amount": st.integers(0, 10**18) | st.just(2**64 + 1),
    "channel": ids,
    "segment": ids,
    "probability": st.floats(0, 1) | st.sampled_from([0, 1]),
}
json_attrs = st.fixed_dictionaries({}, optional=attr_values)
json_events = st.tuples(ids, micros, micros, st.sampled_from(sorted(KIND_NAMES.values())))
json_deals = st.lists(st.tuples(json_events, json_attrs), max_size=6).map(
    lambda events: {"events": [[*event, attrs] for event, attrs in events]}
)
json_wins = st.none() | st.tuples(micros, ids, ids, ids | st.none()).map(list)
json_states = st.tuples(micros | st.just(BIG), micros, json_wins).map(list)
json_customers = st.dictionaries(ids, st.lists(json_states, min_size=1, max_size=4), max_size=4)


def through_bytes(value):
    return decode_record(type(value), encode_record(value))


class FutureDealAttrs(DealAttrs, array_like=True):
    """A later format that appended an exact probability."""

    probability_q: int = 0


@pytest.mark.parametrize(
    "value",
    [
        DealRecord(),
        DealRecord(
            [
                DealEventRecord(
                    "ev-1", 1_770_000_000_000_000, 41, DealEventKind.CREATED, CREATED_ATTRS
                ),
                DealEventRecord("ev-2", 1_770_100_000_000_000, 97, DealEventKind.WON, DealAttrs()),
            ],
            ix_day=20_480,
        ),
        DealRecord(
            base=DealSummary(
                DealStatus.WON, 1, 5, 3, CREATED_ATTRS, ["ev-1", "ev-2"], 97, 1_770_100_000_000_000
            )
        ),
        CustomerRecord({"d-1": [WinState(BIG, 2**63 + 5, 10, "r", "t", None), WinState(0, 1)]}),
        SeenDay({"ev-1": 0, "ev-2": 2**63 - 1}),
        PartitionMeta(7, {"deal-events": 120}, {"deal-events": 1_770_000_000_000_000}, (3, 7)),
        PartitionMeta(),
    ],
)
def test_a_record_round_trips_through_its_bytes(value):
    data = encode_record(value)
    assert data[0] == FORMAT
    assert decode_record(type(value), data) == value


def test_a_record_written_before_fields_were_appended_reads_them_as_defaults():
    old_deal = bytes([FORMAT]) + msgspec.msgpack.encode([[]])
    old_win = bytes([FORMAT]) + msgspec.msgpack.encode([3, 2])
    assert decode_record(DealRecord, old_deal) == DealRecord()
    assert decode_record(WinState, old_win) == WinState(3, 2)


def test_a_record_of_a_later_format_reads_without_its_new_fields():
    later = FutureDealAttrs("r", None, None, 5, None, None, None, probability_q=2**62)
    assert decode_record(DealAttrs, codec_of(FutureDealAttrs).encode(later)) == DealAttrs(
        "r", amount=5
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        bytes([FORMAT]) + msgspec.msgpack.encode([[["e", 1, 2, 9, [None] * 5]]]),
        bytes([FORMAT]) + b"\xc1",
    ],
    ids=["empty", "json", "unknown event kind", "bad msgpack"],
)
def test_bytes_that_are_no_deal_record_are_refused(data):
    with pytest.raises(StateFormatError):
        decode_record(DealRecord, data)


@settings(max_examples=150, deadline=None)
@given(value=json_deals)
def test_any_deals_table_value_converts_to_a_record_and_back_unchanged(value):
    assert deal_record_to_json(through_bytes(deal_record_from_json(value))) == value


@settings(max_examples=150, deadline=None)
@given(value=json_customers)
def test_any_customers_table_value_converts_to_a_record_and_back_unchanged(value):
    assert customer_record_to_json(through_bytes(customer_record_from_json(value))) == value


@settings(max_examples=100, deadline=None)
@given(
    entries=st.dictionaries(st.tuples(ids, ids), st.integers(0, 2**63 - 1), max_size=12),
    salt=st.integers(0, 3),
)
def test_any_seen_entries_group_by_day_and_convert_back_unchanged(entries, salt):
    table = {composite_key(rk, eid): offset for (rk, eid), offset in entries.items()}

    def day_of(routing_key: str, event_id: str) -> int:
        return (len(event_id) + salt) % 3 - 1

    days = seen_days_from_json(table.items(), day_of)
    assert seen_entries_to_json({g: through_bytes(s) for g, s in days.items()}) == table
    assert all(day_of(rk, eid) == day for (day, rk), s in days.items() for eid in s.first)


@settings(max_examples=100, deadline=None, database=None)
@given(stream=event_streams(INSTANTS))
def test_the_tables_of_todays_folds_convert_to_records_and_back_unchanged(stream):
    tables = FoldTables().feed_batches([stream])
    stored = orjson.loads(orjson.dumps([tables.deals, tables.customer_rows, tables.seen]))
    deals, customers, seen = stored
    for value in deals.values():
        assert orjson.dumps(deal_record_to_json(through_bytes(deal_record_from_json(value)))) == (
            orjson.dumps(value)
        )
    for value in customers.values():
        record = through_bytes(customer_record_from_json(value))
        assert orjson.dumps(customer_record_to_json(record)) == orjson.dumps(value)
    day_of_event = {e.event_id: to_us(e.occurred_at) // 86_400_000_000 for e in validated(stream)}
    days = seen_days_from_json(seen.items(), lambda _, event_id: day_of_event[event_id])
    assert seen_entries_to_json(days) == seen


@settings(max_examples=150, deadline=None)
@given(value=json_deals.filter(lambda v: v["events"]))
def test_a_summary_holds_the_state_its_events_fold_to(value):
    record = deal_record_from_json(value)
    events = [deal_event_of_record(event)[1] for event in record.events]
    summary = through_bytes(DealRecord(base=summary_of(record))).base
    assert deal_state_of(summary) == fold_deal(events)
    assert summary.event_ids == [event.event_id for event in record.events]
    assert summary.last_seq == max(event.seq for event in events)


@settings(max_examples=100, deadline=None)
@given(
    event_id=ids,
    at_us=micros,
    seq=micros,
    kind=st.sampled_from(list(DealEventKind)),
    attrs=json_attrs,
)
def test_a_deal_event_converts_to_its_fold_view_and_back(event_id, at_us, seq, kind, attrs):
    record = DealEventRecord(event_id, at_us, seq, kind, deal_attrs_of(attrs))
    assert record_of_deal_event(*deal_event_of_record(record)) == record
    assert deal_event_of_record(record)[1] == DealEvent(at_us, seq, kind, attrs)


@pytest.mark.parametrize(
    "win",
    [None, ("d-1", WinState(1, 2, 10, "r", "t", None)), ("d-2", WinState(1, 2, 0, "r", "t", "x"))],
)
def test_a_win_state_offers_its_customer_the_win_it_was_made_from(win):
    state = win_state_of(1, 2, None) if win is None else win[1]
    deal_id = "d-0" if win is None else win[0]
    offered = customer_win_of(deal_id, state)
    assert win_state_of(1, 2, offered) == state
    assert (offered is None) == (win is None)


def test_attributes_come_back_in_the_order_events_carry_them():
    assert DealAttrs.__struct_fields__ == ATTRIBUTE_NAMES
    assert list(CREATED_ATTRS.as_dict()) == list(ATTRIBUTE_NAMES)


@pytest.mark.parametrize(
    ("convert", "value", "match"),
    [
        (deal_record_from_json, {"events": [["e", 1, 2, "merged", {}]]}, "kind"),
        (deal_record_from_json, {"events": [["e", 1, 2, "won", {"amount": None}]]}, "null"),
        (deal_record_from_json, {"events": [["e", 1, 2, "won", {"stage": "won"}]]}, "stage"),
        (deal_record_from_json, {"events": [["e", 1.5, 2, "won", {}]]}, "at_us"),
        (customer_record_from_json, {"d": [[True, 1, None]]}, "position"),
        (customer_record_from_json, {"d": [[1, 1, ["t", "r", "t", None]]]}, "won_at"),
        (deal_record_to_json, DealRecord(base=SUMMARY), "summarised"),
    ],
)
def test_a_value_todays_tables_cannot_hold_is_refused(convert, value, match):
    with pytest.raises(ValueError, match=match):
        convert(value)


def test_a_seen_entry_key_is_todays_composite_key():
    assert seen_entry_key("rep-ü\x00", "ev-1") == composite_key("rep-ü\x00", "ev-1")
    with pytest.raises(LegacyShapeError):
        seen_days_from_json([('["only-one"]', 1)], lambda *_: 0)
