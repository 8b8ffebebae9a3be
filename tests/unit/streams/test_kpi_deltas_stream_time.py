"""kpi-deltas carries its sender's stream time as an optional trailing field (design §8).

The wire stays compatible both ways: a message without it (written before retention, or by the
customer fold, which reads no event time) decodes with no stream time, and a reader of the
one-field body (a worker before retention) still decodes a message that carries it.
"""

import msgspec
import pytest

from projections.effects import QuarterHourCorrections, add_call
from projections.state_types import Source, SourceKind
from streams.corrections import Corrections
from streams.kpi_deltas import decode_kpi_deltas, encode_kpi_deltas, read_kpi_deltas
from tests.support.factories import us

OldCounts = dict[str, int]


class OneFieldBody(msgspec.Struct, array_like=True):
    """The body as workers before retention declared it: scopes only, as tuples."""

    scopes: list[tuple[str, list[tuple[str, int, int, OldCounts, OldCounts, OldCounts]]]]


def some_calls() -> Corrections:
    corrections = Corrections()
    for i in range(6):
        caused = QuarterHourCorrections()
        add_call(caused, us(f"2026-02-12T1{i}:00:00Z"), f"rep-{i}", "team-1")
        corrections.add(Source.of(SourceKind.CALL, 0), 10 + i, caused.spreads())
    return corrections


@pytest.mark.parametrize("stream_us", [0, us("2026-02-12T15:00:00Z"), us("8999-12-31T23:59:59Z")])
@pytest.mark.parametrize("partitions", [1, 4])
def test_a_message_with_a_stream_time_decodes_to_it_and_to_the_same_corrections(
    stream_us, partitions
):
    plain = encode_kpi_deltas(some_calls().items(), partitions)
    timed = encode_kpi_deltas(some_calls().items(), partitions, stream_us=stream_us)
    assert [m.partition for m in timed] == [m.partition for m in plain]
    for before, after in zip(plain, timed, strict=True):
        assert read_kpi_deltas(after.value, after.partition, partitions) == (
            decode_kpi_deltas(before.value, before.partition, partitions),
            stream_us,
        )


@pytest.mark.parametrize("partitions", [1, 4])
def test_a_message_without_a_stream_time_keeps_its_bytes_and_decodes_without_one(partitions):
    for message in encode_kpi_deltas(some_calls().items(), partitions, stream_us=None):
        [scopes] = msgspec.msgpack.decode(message.value[1:])
        assert read_kpi_deltas(message.value, message.partition, partitions).stream_us is None
        assert len(scopes) >= 1


@pytest.mark.parametrize("stream_us", [0, us("2026-02-12T15:00:00Z")])
def test_a_reader_of_the_one_field_body_still_decodes_a_message_with_a_stream_time(stream_us):
    old_reader = msgspec.msgpack.Decoder(OneFieldBody)
    for message in encode_kpi_deltas(some_calls().items(), 4, stream_us=stream_us):
        scopes = old_reader.decode(message.value[1:]).scopes
        new = decode_kpi_deltas(message.value, message.partition, 4)
        assert [key for key, _ in scopes] == [key for key, _ in new]
        assert msgspec.msgpack.decode(message.value[1:])[1] == stream_us


def test_a_message_of_the_first_json_format_has_no_stream_time():
    value = b'[["company|",[["k0",3,7000,{"calls":1},{"rep-1":1},{}]]]]'
    decoded = read_kpi_deltas(value, 0, 1)
    assert decoded.stream_us is None
    assert [key for key, _ in decoded.scopes] == ["company|"]


def test_a_big_sum_message_keeps_its_stream_time():
    corrections = Corrections()
    caused = QuarterHourCorrections()
    add_call(caused, us("2026-02-12T10:00:00Z"), "rep-1", "team-1")
    for buckets in caused.by_key.values():
        for tally in buckets.values():
            tally.counts["revenue"] = 2**70
    corrections.add(Source.of(SourceKind.DEAL, 0), 1, caused.spreads())
    [message] = encode_kpi_deltas(corrections.items(), 1, stream_us=1234)
    decoded = read_kpi_deltas(message.value, 0, 1)
    assert decoded.stream_us == 1234
    revenues = [c.tally.counts.get("revenue") for _, found in decoded.scopes for c in found]
    assert 2**70 in revenues
