"""Issue 13: sums of micro-units beyond 64 bits stay exact through every encoding of the agents.

19 won deals of 10^12 in one hour are 1.9e19 micro-units in a team's hour bucket, past 2^64: the
changelog encoder (orjson) raised ``Integer exceeds 64-bit range`` and the apply agent stopped.
Values outside the signed 64-bit range now travel as decimal strings; values inside it keep the
bytes they always had.
"""

import faust.serializers.codecs as faust_codecs
import msgspec
import orjson
import pytest

from projections.readout import report
from projections.state_types import Source, SourceKind
from projections.tally import INT64_MAX, INT64_MIN, Tally
from projections.timebase import HOUR_US, Grid
from streams.corrections import Correction, Corrections
from streams.kpi_deltas import MalformedKpiDeltas, decode_kpi_deltas, encode_kpi_deltas
from streams.routing import partition_of
from tests.support.factories import FoldTables, bucket_table_of, created, store_of, ts, us, won
from tests.support.grid_buckets import apply_kpi_batch, bucket_key

MAX = 10**12
MAX_MICROS = MAX * 10**6
NOW = ts("2026-02-14T15:59:59Z")
TEAM_HOUR_BUCKET = bucket_key("team|team-1", Grid.HOURLY, us("2026-02-14T15:00:00Z") // HOUR_US)
D0 = Source.of(SourceKind.DEAL, 0)


def big_hour(deals: int, amount: float = MAX) -> list[dict]:
    """``deals`` deals of ``amount``, all created and won within one hour by one team."""
    return [
        event
        for n in range(deals)
        for event in (
            created(f"d-{n}", "2026-02-14T15:00:00Z", amount=amount, customer_id=f"c-{n}"),
            won(f"d-{n}", f"2026-02-14T15:{n:02d}:00Z"),
        )
    ]


def changelog_round_trip(row: object) -> object:
    """A table value through the serializer of Faust's table changelogs (``json``, orjson)."""
    return faust_codecs.loads("json", faust_codecs.dumps("json", row))


@pytest.mark.parametrize("deals", [18, 19, 40])
@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_won_deals_summing_past_64_bits_in_one_hour_fold_and_encode_exactly(deals, batch_size):
    stream = big_hour(deals)
    tables = FoldTables().feed_batches(
        [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]
    )
    for row in tables.bucket_rows.values():
        assert changelog_round_trip(row) == row
    for table in (tables.deals, tables.customer_rows, tables.seen, tables.key_rows):
        assert changelog_round_trip(table) == table
    bucket = Tally.from_json(changelog_round_trip(tables.bucket_rows[TEAM_HOUR_BUCKET]))
    assert bucket.counts["revenue"] == deals * MAX_MICROS
    assert tables.buckets == bucket_table_of(store_of(stream))
    [team] = [k for k in tables.key_rows if k == "team|team-1"]
    assert report(tables.lookup, team, NOW, tables.grid)["1h"]["revenue"] == deals * MAX


@pytest.mark.parametrize(
    "revenue", [2**63, 19 * MAX_MICROS, -19 * MAX_MICROS, -(2**63) - 1, 10**40]
)
def test_a_correction_beyond_64_bits_crosses_kpi_deltas_as_a_decimal_string(revenue):
    corrections = Corrections()
    corrections.by_key["team|t"] = [Correction(D0, 5, 7000, Tally({"revenue": revenue}, {"r": 1}))]
    [message] = encode_kpi_deltas(corrections.items(), 4)
    assert msgspec.msgpack.encode({"revenue": str(revenue)}) in message.value
    [(key, [entry])] = decode_kpi_deltas(message.value, message.partition, 4)
    assert (key, entry.source, entry.offset, entry.quarter) == ("team|t", D0, 5, 7000)
    assert entry.tally.counts == {"revenue": revenue}


@pytest.mark.parametrize("value", [INT64_MAX, INT64_MIN, 0, 1, -1, MAX_MICROS])
def test_values_within_64_bits_keep_todays_bytes(value):
    tally = Tally({"revenue": value, "calls": 3}, {"r-1": 1}, {"c-1": 2})
    plain = [{"revenue": value, "calls": 3}, {"r-1": 1}, {"c-1": 2}]
    assert orjson.dumps(tally.to_json()) == orjson.dumps(plain)
    assert Tally.from_json(orjson.loads(orjson.dumps(plain))) == tally


def test_buckets_written_before_the_fix_are_read_as_they_were():
    # orjson wrote unsigned values up to 2^64 - 1 as plain numbers.
    old_row = [{"revenue": 2**64 - 1, "deals_won": 18}, {"r-1": 36}, {}, {"d0": 40}]
    tally = Tally.from_json(orjson.loads(orjson.dumps(old_row)))
    assert tally.counts == {"revenue": 2**64 - 1, "deals_won": 18}


def test_applying_big_corrections_twice_then_retracting_them_leaves_an_exact_empty_bucket():
    buckets, keys = {}, {}
    corrections = Corrections()
    corrections.by_key["team|t"] = [
        Correction(D0, offset, 7000, Tally({"revenue": sign * 10 * MAX_MICROS}))
        for offset, sign in ((1, 1), (2, 1), (3, -1), (4, -1))
    ]
    [message] = encode_kpi_deltas(corrections.items(), 1)
    decoded = decode_kpi_deltas(message.value, 0, 1)
    apply_kpi_batch(buckets, keys, decoded[:1], FoldTables().grid)
    rows = {key: changelog_round_trip(row) for key, row in buckets.items()}
    apply_kpi_batch(rows, keys, decoded, FoldTables().grid)  # the first one again: a replay
    assert all(Tally.from_json(row).is_empty() for row in rows.values())


COMPANY = "company|"


@pytest.mark.parametrize(
    "revenue",
    [
        pytest.param("1", id="a-string-within-64-bits"),
        pytest.param("+19000000000000000000", id="a-plus-sign"),
        pytest.param("019000000000000000000", id="a-leading-zero"),
        pytest.param("1.9e19", id="an-exponent"),
        pytest.param("19000000000000000000 ", id="a-trailing-space"),
        pytest.param("١٩٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠", id="non-ascii-digits"),
        pytest.param("9" * 81, id="too-long"),
        pytest.param("-", id="a-lone-sign"),
        pytest.param("", id="empty"),
        pytest.param(1.9e19, id="a-float"),
        pytest.param(True, id="a-boolean"),
    ],
)
def test_a_count_that_is_not_an_integer_or_its_canonical_big_string_is_refused(revenue):
    value = orjson.dumps([[COMPANY, [["d0", 1, 7000, {"revenue": revenue}, {}, {}]]]])
    with pytest.raises(MalformedKpiDeltas, match="counts must be integers"):
        decode_kpi_deltas(value, partition_of(COMPANY, 8), 8)
