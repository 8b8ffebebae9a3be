"""The two kpi-deltas formats: msgpack behind a format byte, and the JSON messages written before.

A worker must read both (JSON ones may sit on the topic at an upgrade), refuse a malformed value of
either before applying anything, and carry sums beyond 64 bits exactly, as decimal strings.
"""

from collections.abc import Callable

import msgspec
import orjson
import pytest

from events.topics import DLQ_SOURCE_OFFSET
from projections.day_values import day_entries_of
from projections.effects import QuarterHourCorrections, add_call, cost_spread
from projections.state_types import Source, SourceKind
from projections.tally import INT64_MAX, INT64_MIN, Tally
from streams.agent_wire import MSGPACK_FORMAT
from streams.corrections import Correction, Corrections
from streams.kpi_deltas import (
    MalformedKpiDeltas,
    decode_kpi_deltas,
    encode_kpi_deltas,
    read_day_entries,
)
from streams.routing import partition_of
from tests.support.agent_fakes import expected_days, pipeline, record
from tests.support.apply_engines import ENGINES, kpi_apply_named
from tests.support.factories import us


def activity() -> Corrections:
    """Calls and costs of three sources, as the activity agents tag them."""
    corrections = Corrections()
    for i in range(24):
        caused = QuarterHourCorrections()
        at = us(f"2026-02-12T{i % 24:02d}:15:00Z")
        if i % 3:
            add_call(caused, at, f"rep-{i % 5}", f"team-{i % 2}")
            corrections.add(Source.of(SourceKind.CALL, i % 2), 100 + i, caused.spreads())
        else:
            cost = cost_spread(at, "marketing", 1_000_000 * (i + 1), f"team-{i % 2}", "email")
            corrections.add(Source.of(SourceKind.COST, 3), 7 + i, [cost])
    return corrections


def json_era_values(corrections: Corrections, partitions: int) -> dict[int, bytes]:
    """One value per partition as workers wrote them before msgpack (compact JSON, orjson)."""
    items: dict[int, list] = {}
    for key, entries in corrections.items():
        json_entries = [[src, o, q, *tally.to_json()] for src, o, q, tally in entries]
        items.setdefault(partition_of(key, partitions), []).append([key, json_entries])
    return {partition: orjson.dumps(scopes) for partition, scopes in items.items()}


def msgpack_value(scopes: object) -> bytes:
    """A value of the msgpack format with any body: the format byte, then ``[scopes]``."""
    return bytes([MSGPACK_FORMAT]) + msgspec.msgpack.encode([scopes])


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_a_message_is_the_format_byte_then_msgpack_of_scope_keys_and_their_entries(partitions):
    for message in encode_kpi_deltas(activity().items(), partitions):
        assert message.value[0] == MSGPACK_FORMAT
        [scopes] = msgspec.msgpack.decode(message.value[1:])
        expected = [
            [key, [[src, o, q, *tally.to_json()] for src, o, q, tally in entries]]
            for key, entries in activity().items()
            if partition_of(key, partitions) == message.partition
        ]
        assert scopes == expected


@pytest.mark.parametrize("partitions", [1, 4, 8])
def test_a_json_era_message_decodes_to_the_corrections_of_its_msgpack_form(partitions):
    msgpack_messages = {m.partition: m for m in encode_kpi_deltas(activity().items(), partitions)}
    json_values = json_era_values(activity(), partitions)
    assert json_values.keys() == msgpack_messages.keys()
    for partition, value in json_values.items():
        assert value.startswith(b"[")
        from_json = decode_kpi_deltas(value, partition, partitions)
        from_msgpack = decode_kpi_deltas(msgpack_messages[partition].value, partition, partitions)
        assert from_json == from_msgpack
        assert [key for key, _ in from_json] == [
            key for key, _ in activity().items() if partition_of(key, partitions) == partition
        ]


def test_a_field_appended_by_a_later_format_is_ignored():
    [message] = encode_kpi_deltas(activity().items(), 1)
    [scopes] = msgspec.msgpack.decode(message.value[1:])
    later = bytes([MSGPACK_FORMAT]) + msgspec.msgpack.encode([scopes, 1_771_000_000_000_000])
    assert decode_kpi_deltas(later, 0, 1) == decode_kpi_deltas(message.value, 0, 1)


COMPANY = "company|"
GOOD_ENTRY = ["k0", 3, 7000, {"calls": 1}, {"rep-1": 1}, {}]
BAD_BODIES = {
    "an-object": {COMPANY: []},
    "items-not-pairs": [1, 2],
    "scope-key-not-a-string": [[5, [GOOD_ENTRY]]],
    "entries-not-a-list": [[COMPANY, {"k0": 1}]],
    "entry-too-short": [[COMPANY, [GOOD_ENTRY[:5]]]],
    "entry-too-long": [[COMPANY, [[*GOOD_ENTRY, {}]]]],
    "offset-a-string": [[COMPANY, [["k0", "3", *GOOD_ENTRY[2:]]]]],
    "quarter-a-float": [[COMPANY, [[*GOOD_ENTRY[:2], 7000.0, *GOOD_ENTRY[3:]]]]],
    "src-not-a-string": [[COMPANY, [[7, *GOOD_ENTRY[1:]]]]],
    "count-text": [[COMPANY, [[*GOOD_ENTRY[:3], {"calls": "1"}, {}, {}]]]],
    "count-a-boolean": [[COMPANY, [[*GOOD_ENTRY[:3], {"calls": True}, {}, {}]]]],
    "count-a-float": [[COMPANY, [[*GOOD_ENTRY[:3], {"calls": 1.0}, {}, {}]]]],
    "big-count-with-a-plus": [[COMPANY, [[*GOOD_ENTRY[:3], {"revenue": "+" + "9" * 20}, {}, {}]]]],
    "reps-not-a-mapping": [[COMPANY, [[*GOOD_ENTRY[:4], [1, 2], {}]]]],
    "another-partitions-key": [["rep|not-here", [GOOD_ENTRY]]],
}
ENCODINGS = {"json": orjson.dumps, "msgpack": msgpack_value}
COMPANY_PARTITION = partition_of(COMPANY, 8)


READERS = ("corrections", *ENGINES)
"""What reads a message: ``decode_kpi_deltas``, or the read step of an apply path."""


def reader(name: str) -> Callable[[bytes, int, int], object]:
    return decode_kpi_deltas if name == "corrections" else kpi_apply_named(name).read


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_malformed_body_is_refused_in_either_format(read, encoding, body):
    assert partition_of("rep|not-here", 8) != COMPANY_PARTITION
    with pytest.raises(MalformedKpiDeltas):
        reader(read)(ENCODINGS[encoding](body), COMPANY_PARTITION, 8)


def test_the_good_entry_of_the_malformed_cases_is_accepted_in_either_format():
    for encode in ENCODINGS.values():
        [(key, [entry])] = decode_kpi_deltas(
            encode([[COMPANY, [GOOD_ENTRY]]]), COMPANY_PARTITION, 8
        )
        assert (key, entry) == (COMPANY, ("k0", 3, 7000, Tally({"calls": 1}, {"rep-1": 1})))


K0 = Source.of(SourceKind.CALL, 0)
[GOOD_MSGPACK] = encode_kpi_deltas([(COMPANY, [Correction(K0, 3, 7000, Tally({"calls": 1}))])], 8)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(bytes([MSGPACK_FORMAT]), id="format-byte-alone"),
        pytest.param(GOOD_MSGPACK.value[:-1], id="truncated"),
        pytest.param(GOOD_MSGPACK.value + b"\x00", id="trailing-bytes"),
        pytest.param(bytes([MSGPACK_FORMAT]) + b"\xc1", id="reserved-byte"),
        pytest.param(bytes([MSGPACK_FORMAT]) + orjson.dumps([[COMPANY, []]]), id="json-after-byte"),
        pytest.param(b"\x03" + GOOD_MSGPACK.value[1:], id="unknown-format-byte"),
        pytest.param(GOOD_MSGPACK.value[1:], id="msgpack-without-format-byte"),
        pytest.param(b"", id="empty"),
        pytest.param(None, id="no-value"),
    ],
)
def test_bytes_that_are_no_message_of_either_format_are_refused(value):
    assert decode_kpi_deltas(GOOD_MSGPACK.value, COMPANY_PARTITION, 8)
    with pytest.raises(MalformedKpiDeltas):
        decode_kpi_deltas(value, COMPANY_PARTITION, 8)


@pytest.mark.parametrize(
    "revenue", [2**63, 2**64, 19 * 10**18, -(2**63) - 1, -(10**40), 10**40, INT64_MAX, INT64_MIN]
)
def test_sums_cross_exactly_and_beyond_64_bits_as_decimal_strings(revenue):
    tally = Tally({"revenue": revenue, "deals_won": 2})
    corrections = [("team|t", [Correction(Source.of(SourceKind.DEAL, 0), 5, 7000, tally)])]
    [message] = encode_kpi_deltas(corrections, 4)
    [[[_, [[*_, counts, _, _]]]]] = msgspec.msgpack.decode(message.value[1:])
    beyond = not INT64_MIN <= revenue <= INT64_MAX
    assert counts == {"revenue": str(revenue) if beyond else revenue, "deals_won": 2}
    [(key, [entry])] = decode_kpi_deltas(message.value, message.partition, 4)
    assert (key, [entry]) == corrections[0]
    assert entry.tally.counts["revenue"] == revenue


async def test_a_batch_mixing_both_formats_and_a_bad_message_applies_the_good_ones_once():
    partitions = 8
    receiver = pipeline(partitions)
    sent = encode_kpi_deltas(activity().items(), partitions)
    old = json_era_values(activity(), partitions)
    bad = msgpack_value(BAD_BODIES["count-text"])
    batch = [record("kpi-deltas", value, p, i) for i, (p, value) in enumerate(old.items())]
    batch.append(record("kpi-deltas", bad, COMPANY_PARTITION, 50))
    batch += [record("kpi-deltas", m.value, m.partition, 60 + i) for i, m in enumerate(sent)]
    await receiver.on_kpi_batch(batch)  # the msgpack ones replay the JSON ones: no change
    days, keys = expected_days(activity())
    assert receiver.state.merged("days") == days
    assert receiver.state.merged("keys") == keys
    [letter] = receiver.topics.dead_letters.sent
    assert dict(letter["headers"])[DLQ_SOURCE_OFFSET] == b"50"


def day_entries_by_way_of_tallies(value: bytes, partition: int, partitions: int) -> list:
    """What the apply agent read before ``read_day_entries``: corrections, then day entries."""
    scopes = decode_kpi_deltas(value, partition, partitions)
    return [(key, day_entries_of(entries)) for key, entries in scopes]


@pytest.mark.parametrize("partitions", [1, 4, 8])
@pytest.mark.parametrize("era", ["msgpack", "json", "beyond-64-bits"])
def test_the_apply_agent_reads_the_day_entries_the_corrections_give_in_every_format(
    partitions, era
):
    corrections = activity()
    if era == "beyond-64-bits":
        big = QuarterHourCorrections()
        big.at("company|", 7000).count("revenue", 10**40)
        corrections.add(Source.of(SourceKind.DEAL, 2), 9, big.spreads())
    if era == "json":
        values = json_era_values(corrections, partitions)
    else:
        values = {m.partition: m.value for m in encode_kpi_deltas(corrections.items(), partitions)}
    for partition, value in values.items():
        read = read_day_entries(value, partition, partitions)
        assert read.scopes == day_entries_by_way_of_tallies(value, partition, partitions)
        assert read.stream_us is None


def test_day_entries_keep_the_stream_time_a_message_carries():
    [message] = encode_kpi_deltas(activity().items(), 1, stream_us=1_771_000_000_000_000)
    assert read_day_entries(message.value, 0, 1).stream_us == 1_771_000_000_000_000


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "body",
    [*BAD_BODIES.values(), [[COMPANY, [[*GOOD_ENTRY[:3], {"bonus_points": 1}, {}, {}]]]]],
    ids=[*BAD_BODIES.keys(), "unknown-count"],
)
def test_a_body_the_day_values_cannot_take_is_refused_before_anything_is_applied(
    engine, encoding, body
):
    with pytest.raises(MalformedKpiDeltas):
        reader(engine)(ENCODINGS[encoding](body), COMPANY_PARTITION, 8)


BAD_SOURCES = {"unknown-letter": "q0", "no-partition": "k", "empty": "", "past-the-cap": "k1024"}


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("label", BAD_SOURCES.values(), ids=BAD_SOURCES.keys())
def test_a_source_label_naming_no_input_partition_is_refused_by_either_reader(
    read, encoding, label
):
    body = [[COMPANY, [[label, *GOOD_ENTRY[1:]]]]]
    with pytest.raises(MalformedKpiDeltas):
        reader(read)(ENCODINGS[encoding](body), COMPANY_PARTITION, 8)


OUT_OF_TIME = {
    "quarter-past-every-event-time": (
        msgpack_value([[COMPANY, [[*GOOD_ENTRY[:2], 2**62, *GOOD_ENTRY[3:]]]]])
    ),
    "quarter-before-the-epoch": (
        msgpack_value([[COMPANY, [[*GOOD_ENTRY[:2], -1, *GOOD_ENTRY[3:]]]]])
    ),
    "stream-time-past-every-event-time": bytes([MSGPACK_FORMAT])
    + msgspec.msgpack.encode([[[COMPANY, [GOOD_ENTRY]]], 2**63 - 1]),
}


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize("value", OUT_OF_TIME.values(), ids=OUT_OF_TIME.keys())
def test_times_outside_every_event_time_are_refused_before_a_day_key_or_the_horizon_moves(
    read, value
):
    with pytest.raises(MalformedKpiDeltas, match="out of event-time range"):
        reader(read)(value, COMPANY_PARTITION, 8)
