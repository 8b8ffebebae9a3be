"""The kpi-deltas format: one message per destination partition, order kept, bad ones refused.

Pure functions of ``streams.kpi_deltas`` first, then the two ``Pipeline`` methods that use them,
with the Faust topics and the state replaced by plain objects (``tests.support.agent_fakes``). The
msgpack format itself, and the JSON messages written before it: ``test_kpi_deltas_formats``.
"""

import orjson
import pytest

from events.topics import DLQ_REASON, DLQ_SOURCE_OFFSET
from projections.effects import QuarterHourCorrections, Spread, add_call, call_spread
from projections.state_types import Source
from projections.tally import Tally
from streams.corrections import Corrections
from streams.kpi_deltas import MalformedKpiDeltas, decode_kpi_deltas, encode_kpi_deltas
from streams.routing import partition_of
from tests.support.agent_fakes import GRID, expected_days, pipeline, record
from tests.support.factories import us
from tests.support.grid_buckets import apply_kpi_batch


def calls(*origins: tuple[str, int, str, str]) -> Corrections:
    """Corrections of calls, one per (source label, offset, rep, hour of 2026-02-12)."""
    corrections = Corrections()
    for label, offset, rep, hour in origins:
        caused = QuarterHourCorrections()
        add_call(caused, us(f"2026-02-12T{hour}:00:00Z"), rep, f"team-of-{rep}")
        corrections.add(Source.parse(label), offset, caused.spreads())
    return corrections


MANY = calls(
    *[("k1", 40 + i, f"rep-{i % 7}", f"{9 + i % 5:02d}") for i in range(30)],
    *[("k0", 10 + i, f"rep-{i % 3}", "10") for i in range(10)],
)


def round_trip(corrections: Corrections, partitions: int, max_bytes: int = 512 * 1024):
    """What the apply agents read, message by message, in the order they were sent."""
    messages = encode_kpi_deltas(corrections.items(), partitions, max_bytes)
    return messages, [
        pair for m in messages for pair in decode_kpi_deltas(m.value, m.partition, partitions)
    ]


def shared_and_copied_calls(partitions: int) -> tuple[list[bytes], list[bytes]]:
    """The messages of calls whose keys share one tally (as the folds send them), and of the
    same calls with a tally of its own per key."""
    shared, copied = Corrections(), Corrections()
    for offset, hour in ((3, "09"), (4, "09"), (5, "13")):
        spread = call_spread(us(f"2026-02-12T{hour}:00:00Z"), "rep-1", "team-1")
        shared.add(Source.parse("k2"), offset, [spread])
        for key in spread.keys:
            own = [(q, Tally(dict(t.counts), dict(t.reps))) for q, t in spread.quarters]
            copied.add(Source.parse("k2"), offset, [Spread([key], own)])
    return [[m.value for m in encode_kpi_deltas(c.items(), partitions)] for c in (shared, copied)]


@pytest.mark.parametrize("partitions", [1, 4])
def test_corrections_shared_by_several_keys_are_sent_like_a_copy_per_key(partitions):
    shared, copied = shared_and_copied_calls(partitions)
    assert shared == copied


def test_a_spread_without_quarters_adds_no_scope_key():
    corrections = Corrections()
    corrections.add(Source.parse("x0"), 1, [Spread(["company|"], [])])
    assert corrections.is_empty()
    assert encode_kpi_deltas(corrections.items(), 2) == []


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_a_batch_sends_one_message_per_partition_holding_only_that_partitions_scope_keys(
    partitions,
):
    messages, _ = round_trip(MANY, partitions)
    expected = {partition_of(key, partitions) for key, _ in MANY.items()}
    assert sorted(m.partition for m in messages) == sorted(expected)
    for m in messages:
        keys = [key for key, _ in decode_kpi_deltas(m.value, m.partition, partitions)]
        assert {partition_of(key, partitions) for key in keys} == {m.partition}
        assert partition_of(m.key.decode(), partitions) == m.partition


@pytest.mark.parametrize(("partitions", "max_bytes"), [(1, 512 * 1024), (4, 512 * 1024), (4, 300)])
def test_every_scope_key_arrives_once_with_its_entries_in_src_and_offset_order(
    partitions, max_bytes
):
    _, decoded = round_trip(MANY, partitions, max_bytes)
    assert sorted(key for key, _ in decoded) == sorted(key for key, _ in MANY.items())
    assert dict(decoded) == dict(MANY.items())
    for key, entries in decoded:
        origins = [(src, offset) for src, offset, _, _ in entries]
        assert origins == sorted(origins), key


@pytest.mark.parametrize(("partitions", "max_bytes"), [(1, 200), (1, 512 * 1024), (4, 200)])
def test_successive_batches_reach_each_scope_key_in_offset_order_over_several_messages(
    partitions, max_bytes
):
    batches = [calls(*[("k2", o, "rep-1", "09") for o in range(n, n + 25)]) for n in (0, 25)]
    read: dict[str, list[int]] = {}
    for batch in batches:
        for key, entries in round_trip(batch, partitions, max_bytes)[1]:
            read.setdefault(key, []).extend(offset for _, offset, _, _ in entries)
    assert read == {key: list(range(50)) for key in ("rep|rep-1", "team|team-of-rep-1", "company|")}


@pytest.mark.parametrize("max_bytes", [512 * 1024, 250])
def test_applying_the_decoded_messages_gives_the_buckets_of_applying_the_corrections(max_bytes):
    direct, direct_keys, via, via_keys = {}, {}, {}, {}
    apply_kpi_batch(direct, direct_keys, MANY.items(), GRID)
    _, decoded = round_trip(MANY, 8, max_bytes)
    apply_kpi_batch(via, via_keys, decoded, GRID)
    assert (via, via_keys) == (direct, direct_keys)


def test_a_replayed_message_changes_no_bucket():
    buckets, live_keys = {}, {}
    messages = encode_kpi_deltas(MANY.items(), 8)
    for _ in range(2):
        for m in messages:
            apply_kpi_batch(buckets, live_keys, decode_kpi_deltas(m.value, m.partition, 8), GRID)
    once, once_keys = {}, {}
    apply_kpi_batch(once, once_keys, MANY.items(), GRID)
    assert buckets == once


def company_value(entries) -> bytes:
    return orjson.dumps([["company|", entries]])


COMPANY_PARTITION = partition_of("company|", 8)
GOOD_ENTRY = ["k0", 3, 7000, {"calls": 1}, {"rep-1": 1}, {}]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="no-value"),
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"company|": []}', id="an-object"),
        pytest.param(b"[1, 2]", id="items-not-pairs"),
        pytest.param(orjson.dumps([[5, [GOOD_ENTRY]]]), id="scope-key-not-a-string"),
        pytest.param(orjson.dumps([["company|", {"k0": 1}]]), id="entries-not-a-list"),
        pytest.param(company_value([GOOD_ENTRY[:5]]), id="entry-too-short"),
        pytest.param(company_value([[*GOOD_ENTRY, {}]]), id="entry-too-long"),
        pytest.param(company_value([["k0", "3", *GOOD_ENTRY[2:]]]), id="offset-a-string"),
        pytest.param(company_value([[7, *GOOD_ENTRY[1:]]]), id="src-not-a-string"),
        pytest.param(company_value([[*GOOD_ENTRY[:3], {"calls": "1"}, {}, {}]]), id="count-text"),
        pytest.param(company_value([[*GOOD_ENTRY[:4], [1, 2], {}]]), id="reps-not-a-mapping"),
    ],
)
def test_a_malformed_value_is_refused_before_anything_is_applied(value):
    with pytest.raises(MalformedKpiDeltas):
        decode_kpi_deltas(value, COMPANY_PARTITION, 8)


def test_a_scope_key_read_from_another_partition_is_refused():
    other = (COMPANY_PARTITION + 1) % 8
    with pytest.raises(MalformedKpiDeltas, match="does not belong to partition"):
        decode_kpi_deltas(company_value([GOOD_ENTRY]), other, 8)


def event(value: bytes | None, partition: int, offset: int = 0):
    return record("salespulse.kpi-deltas", value, partition, offset)


async def test_send_corrections_places_each_message_in_its_partition_explicitly():
    sender = pipeline()
    await sender.send_corrections(MANY)
    sent = sender.topics.kpi_deltas.direct
    assert len(sent) == len({partition_of(key, 8) for key, _ in MANY.items()})
    for message in sent:
        decoded = decode_kpi_deltas(message["value"], message["partition"], 8)
        assert decoded and message["key"] == decoded[0][0].encode()


async def test_a_malformed_message_is_dead_lettered_and_the_rest_of_the_batch_applied():
    sender, receiver = pipeline(), pipeline()
    await sender.send_corrections(MANY)
    good = [
        event(m["value"], m["partition"], i) for i, m in enumerate(sender.topics.kpi_deltas.direct)
    ]
    bad = event(company_value([GOOD_ENTRY[:5]]), COMPANY_PARTITION, 99)
    await receiver.on_kpi_batch([good[0], bad, *good[1:]])
    assert receiver.state.merged("days") == expected_days(MANY)[0]
    [letter] = receiver.topics.dead_letters.sent
    assert letter["value"] == bad.message.value
    headers = dict(letter["headers"])
    assert b"not KPI corrections" in headers[DLQ_REASON]
    assert headers[DLQ_SOURCE_OFFSET] == b"99"


@pytest.mark.parametrize("apply_max_keys", [1, 5, 2000])
async def test_a_batch_applied_in_chunks_of_scope_keys_gives_the_same_buckets(apply_max_keys):
    sender, receiver = pipeline(), pipeline()
    await sender.send_corrections(MANY)
    await sender.send_corrections(calls(("k1", 99, "rep-1", "12")))
    receiver.apply_max_keys = apply_max_keys
    sent = sender.topics.kpi_deltas.direct
    await receiver.on_kpi_batch([event(m["value"], m["partition"], i) for i, m in enumerate(sent)])
    days, keys = expected_days(MANY, calls(("k1", 99, "rep-1", "12")))
    assert receiver.state.merged("days") == days
    assert receiver.state.merged("keys") == keys


async def test_the_apply_agent_reports_every_scope_key_it_folded_into():
    sender, receiver = pipeline(), pipeline()
    await sender.send_corrections(MANY)
    changed: list[str] = []
    receiver.keys_changed = changed.extend
    sent = sender.topics.kpi_deltas.direct
    await receiver.on_kpi_batch([event(m["value"], m["partition"], i) for i, m in enumerate(sent)])
    assert sorted(changed) == sorted(key for key, _ in MANY.items())
