"""Typed state v2: src ids, tally arithmetic, and the versioned byte codec (round trips, ints
beyond 64 bits, values written before or after a field was appended)."""

import msgspec
import pytest

from projections.deal import DealEventKind
from projections.state_types import (
    FORMAT,
    INT_FIELDS,
    Carry,
    DayValue,
    HourTally,
    Source,
    SourceKind,
    StateCodec,
    StateFormatError,
    add_tally,
    codec_of,
    hour_tally_of,
    split_src_id,
    src_id,
    src_id_of_label,
    tally_is_empty,
    tally_of,
)
from projections.tally import COUNT_FIELDS, Tally

BIG_REVENUE = 19 * 10**12 * 10**6
"""19 won deals of 10^12 in one hour, in micro-units: 1.9e19, beyond int64 and uint64 alike."""


class FutureHourTally(HourTally, array_like=True):
    """A later format that appended one field."""

    margin: int = 0


@pytest.mark.parametrize(
    ("kind", "partition", "expected"),
    [
        (SourceKind.DEAL, 0, 0),
        (SourceKind.CALL, 3, 1027),
        (SourceKind.COST, 1023, 3071),
        (SourceKind.CUSTOMER, 7, 3079),
    ],
)
def test_a_src_id_packs_kind_and_partition_and_unpacks_to_them(kind, partition, expected):
    assert src_id(kind, partition) == expected
    assert split_src_id(expected) == (kind, partition)


@pytest.mark.parametrize("partition", [-1, 1024])
def test_a_partition_outside_the_settings_cap_has_no_src_id(partition):
    with pytest.raises(ValueError, match="partition"):
        src_id(SourceKind.DEAL, partition)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("d3", (SourceKind.DEAL, 3)),
        ("k0", (SourceKind.CALL, 0)),
        ("x5", (SourceKind.COST, 5)),
        ("c2", (SourceKind.CUSTOMER, 2)),
    ],
)
def test_a_source_label_maps_to_the_src_id_of_its_kind_and_partition(label, expected):
    assert split_src_id(src_id_of_label(label)) == expected


@pytest.mark.parametrize(
    ("kind", "partition", "label"),
    [
        (SourceKind.DEAL, 3, "d3"),
        (SourceKind.CALL, 0, "k0"),
        (SourceKind.COST, 17, "x17"),
        (SourceKind.CUSTOMER, 1023, "c1023"),
    ],
)
def test_a_source_is_its_wire_label_and_names_its_kind_and_partition(kind, partition, label):
    source = Source.of(kind, partition)
    assert (source, source.label, type(source.label)) == (label, label, str)
    assert (source.kind, source.partition) == (kind, partition)
    assert Source.parse(label) == source
    assert source.src_id == src_id(kind, partition)


def test_sources_sort_as_their_labels_so_messages_keep_their_entry_order():
    sources = [Source.of(kind, p) for kind in SourceKind for p in (0, 2, 10)]
    assert sorted(sources) == sorted(source.label for source in sources)
    assert sorted(sources)[:4] == ["c0", "c10", "c2", "d0"]


@pytest.mark.parametrize("label", ["", "q1", "d", "dx", "d1024", "d-1"])
def test_a_label_naming_no_input_partition_is_no_source(label):
    with pytest.raises((KeyError, ValueError)):
        Source.parse(label)


@pytest.mark.parametrize(
    ("kind", "number"),
    [("CREATED", 0), ("UPDATED", 1), ("WON", 2), ("LOST", 3), ("REOPENED", 4)],
)
def test_deal_event_kinds_keep_their_stored_numbers(kind, number):
    assert DealEventKind[kind] == number


def test_every_v1_count_is_an_hour_tally_field():
    assert set(COUNT_FIELDS) <= set(INT_FIELDS)


@pytest.mark.parametrize(
    "tally",
    [
        Tally(),
        Tally({"opportunities": 1}, {"r-1": 1}),
        Tally({"deals_won": 19, "revenue": BIG_REVENUE}, {"r-1": 2}, {"c-1": 1, "c-2": -1}),
        Tally({"cost_marketing": -5_000_000, "calls": 3}),
    ],
)
def test_a_tally_converts_to_an_hour_tally_and_back_unchanged(tally):
    assert tally_of(hour_tally_of(tally)) == tally


@pytest.mark.parametrize("sign", [1, -1])
def test_adding_and_retracting_a_tally_leaves_nothing(sign):
    correction = HourTally(calls=2, revenue=BIG_REVENUE, reps={"r-1": 1}, customers={"c-1": 1})
    total = HourTally()
    add_tally(total, correction, sign)
    assert not tally_is_empty(total)
    add_tally(total, correction, -sign)
    assert tally_is_empty(total)
    assert total == HourTally()


def test_day_values_built_without_arguments_do_not_share_their_dicts():
    first, second = DayValue(), DayValue()
    first.marks[1] = 5
    first.hours[3] = HourTally(calls=1)
    assert second.marks == {}
    assert second.hours == {}


@pytest.mark.parametrize(
    "value",
    [
        HourTally(),
        HourTally(opportunities=1, reps={"rep-0042": 1}),
        HourTally(deals_won=19, revenue=BIG_REVENUE, customers={"c-1": 19}),
        HourTally(revenue=-BIG_REVENUE, open_amount_delta=2**63, won_age_us=-(2**63) - 1),
        HourTally(revenue=2**63 - 1, cost_sales=-(2**63)),
        HourTally(revenue=10**40, reps={"r-1": 10**30}),
        DayValue(),
        DayValue(
            hours={9: HourTally(opportunities=1), 15: HourTally(revenue=BIG_REVENUE)},
            local={20_500: HourTally(revenue=BIG_REVENUE)},
            marks={0: 120_000, 1027: 5},
        ),
        Carry(),
        Carry(open_deals=3, open_amount=BIG_REVENUE, open_weighted=2**70, marks={3079: 9}),
    ],
)
def test_a_value_round_trips_through_its_bytes(value):
    codec = codec_of(type(value))
    data = codec.encode(value)
    assert data[0] == FORMAT
    assert codec.decode(data) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (BIG_REVENUE, b"19000000000000000000"),
        (2**63, b"9223372036854775808"),
        (-(2**63) - 1, b"-9223372036854775809"),
    ],
)
def test_an_int_outside_int64_is_stored_as_its_decimal_string(value, text):
    assert text in codec_of(HourTally).encode(HourTally(revenue=value))


@pytest.mark.parametrize("value", [2**63 - 1, -(2**63), 2**32, 0])
def test_an_int_inside_int64_is_stored_as_a_msgpack_integer(value):
    data = codec_of(HourTally).encode(HourTally(revenue=value))
    assert data == bytes((FORMAT,)) + msgspec.msgpack.encode(HourTally(revenue=value))


def test_a_value_written_before_a_field_was_appended_decodes_with_its_default():
    old = codec_of(HourTally).encode(HourTally(calls=2, reps={"r-1": 1}))
    assert StateCodec(FutureHourTally).decode(old) == FutureHourTally(calls=2, reps={"r-1": 1})


def test_a_value_written_after_a_field_was_appended_decodes_without_it():
    new = StateCodec(FutureHourTally).encode(FutureHourTally(calls=2, margin=7))
    assert codec_of(HourTally).decode(new) == HourTally(calls=2)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([{3: HourTally(calls=2)}], DayValue(hours={3: HourTally(calls=2)})),
        ([{}, {20_500: HourTally(calls=1)}], DayValue(local={20_500: HourTally(calls=1)})),
    ],
)
def test_a_shorter_day_value_array_takes_the_defaults_of_its_missing_fields(fields, expected):
    data = bytes((FORMAT,)) + msgspec.msgpack.encode(fields)
    assert codec_of(DayValue).decode(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01[[],[],{}]",
        bytes((FORMAT,)) + b"\xc1",
        bytes((FORMAT,)) + msgspec.msgpack.encode([{3: ["many"]}]),
        bytes((FORMAT,)) + msgspec.msgpack.encode([{3: [0, 0, 0, "1.5"]}]),
    ],
)
def test_bytes_that_are_not_a_day_value_of_this_format_are_refused(data):
    with pytest.raises(StateFormatError):
        codec_of(DayValue).decode(data)
