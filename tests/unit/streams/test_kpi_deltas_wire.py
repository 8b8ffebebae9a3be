"""The named shapes of kpi-deltas and customer-wins messages keep the bytes the tuples wrote.

The literals below were encoded before the shapes were named (tuples, bare source labels): the
same corrections and win changes must encode to the very same bytes, and decode back to them.
"""

import msgspec
import pytest

from projections.deal import CustomerWin
from projections.effects import QuarterHourCorrections
from projections.state_types import Source, SourceKind
from streams.corrections import Corrections
from streams.customer_wins import decode_customer_wins, encode_customer_wins
from streams.folds import CustomerWinChange
from streams.kpi_deltas import decode_kpi_deltas, encode_kpi_deltas, read_day_entries
from streams.kpi_deltas_body import KpiDeltasBody
from tests.support.factories import us

KPI_DELTAS_VALUE = (
    b"\x02\x92\x91\x92\xa8company|\x94"
    b"\x96\xa3d10\x07\xcd\x1bX\x81\xa5calls\x01\x81\xa5rep-1\x01\x80"
    b"\x96\xa2d2\t\xcd\x1bX\x81\xa5calls\x01\x81\xa5rep-1\x01\x80"
    b"\x96\xa2k0\x03\xcd\x1bX\x81\xa5calls\x01\x81\xa5rep-1\x01\x80"
    b"\x96\xa2x1\x02\xcd\x1bY\x81\xa7revenue\xb418446744073709551616\x80\x80"
    b"\xcf\x00\x06J\xb7\x11\xe5\xb0\x00"
)
"""Calls from deal-events partitions 10 and 2 and call-events 0, a cost of 2^64 micro-units
from cost-events 1, company scope, stream time 2026-02-13T16:26:40Z."""
CUSTOMER_WINS_VALUE = (
    b"\x02\x91\x93"
    b"\x94\xa6cust-1\xa3d-1\x94\xcf\x00\x06J\x88\xbc\x92\xaa\x00\xa5rep-1\xa6team-1\xa5emaile"
    b"\x94\xa6cust-1\xa3d-2\x95\xcf\x00\x06J\x88\xbc\x92\xaa\x00\xa5rep-1\xa6team-1\xc0\xa3smbg"
    b"\x94\xa6cust-1\xa3d-1\xc0j"
)
STREAM_US = 1_771_000_000_000_000
WON_AT = us("2026-02-11T09:10:00Z")


def sample_corrections() -> Corrections:
    corrections = Corrections()
    for kind, partition, offset in ((SourceKind.DEAL, 10, 7), (SourceKind.CALL, 0, 3)):
        caused = QuarterHourCorrections()
        caused.at("company|", 7000).count("calls", 1)
        caused.at("company|", 7000).rep("rep-1", 1)
        corrections.add(Source.of(kind, partition), offset, caused.spreads())
    deal_2 = QuarterHourCorrections()
    deal_2.at("company|", 7000).count("calls", 1)
    deal_2.at("company|", 7000).rep("rep-1", 1)
    corrections.add(Source.of(SourceKind.DEAL, 2), 9, deal_2.spreads())
    cost = QuarterHourCorrections()
    cost.at("company|", 7001).count("revenue", 2**64)
    corrections.add(Source.of(SourceKind.COST, 1), 2, cost.spreads())
    return corrections


def sample_changes() -> list[CustomerWinChange]:
    plain = CustomerWin(WON_AT, "d-1", "rep-1", "team-1", "email")
    segmented = CustomerWin(WON_AT, "d-2", "rep-1", "team-1", None, "smb")
    return [
        CustomerWinChange("cust-1", "d-1", plain, 101),
        CustomerWinChange("cust-1", "d-2", segmented, 103),
        CustomerWinChange("cust-1", "d-1", None, 106),
    ]


def test_corrections_encode_to_the_bytes_of_the_tuple_format():
    [message] = encode_kpi_deltas(sample_corrections().items(), 1, stream_us=STREAM_US)
    assert (message.key, message.value) == (b"company|", KPI_DELTAS_VALUE)


def test_the_tuple_formats_bytes_decode_to_the_corrections_with_their_sources_named():
    found = decode_kpi_deltas(KPI_DELTAS_VALUE, 0, 1)
    assert found == list(sample_corrections().items())
    [(_, corrections)] = found
    origins = [(c.source.kind, c.source.partition, c.offset) for c in corrections]
    assert origins == [
        (SourceKind.DEAL, 10, 7),
        (SourceKind.DEAL, 2, 9),
        (SourceKind.CALL, 0, 3),
        (SourceKind.COST, 1, 2),
    ]
    day = read_day_entries(KPI_DELTAS_VALUE, 0, 1)
    assert [(c.src_id, c.position) for _, cs in day.scopes for c in cs] == [
        (Source.of(kind, partition).src_id, offset) for kind, partition, offset in origins
    ]
    assert day.stream_us == STREAM_US


def test_the_int_body_leaves_a_sum_beyond_64_bits_to_the_wide_body():
    with pytest.raises(msgspec.ValidationError, match="Expected `int`, got `str`"):
        msgspec.msgpack.Decoder(KpiDeltasBody[int]).decode(KPI_DELTAS_VALUE[1:])
    body = msgspec.msgpack.Decoder(KpiDeltasBody[int | str]).decode(KPI_DELTAS_VALUE[1:])
    assert [w.source for s in body.scopes for w in s.corrections] == ["d10", "d2", "k0", "x1"]
    assert body.scopes[0].corrections[-1].counts == {"revenue": str(2**64)}


def test_win_changes_encode_to_the_bytes_of_the_tuple_format_and_back():
    [message] = encode_customer_wins(sample_changes(), 1)
    assert message.value == CUSTOMER_WINS_VALUE
    decoded = decode_customer_wins(message.key, message.value, 7, 0, 1)
    assert [(c.customer_id, c.deal_id, c.win, c.source_offset) for c in decoded] == [
        (c.customer_id, c.deal_id, c.win, c.source_offset) for c in sample_changes()
    ]
