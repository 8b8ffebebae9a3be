"""The folds' table values, named (``streams.fold_values``), keep the bytes they always had.

The literal values below were written by the folds before the shapes were named (positional
lists); a value read and written back, and a value the folds write today, must be those bytes.
"""

import orjson
import pytest

from projections.deal import CustomerWin, DealEventKind
from projections.normalize import deal_event_of
from streams.fold_values import (
    DealWinState,
    customer_history_from_wire,
    customer_history_to_wire,
    deal_events_from_wire,
    deal_events_to_wire,
    win_from_wire,
    win_to_wire,
)
from streams.folds import (
    CustomerWinChange,
    IncomingDealEvent,
    fold_customer_batch,
    fold_deal_batch,
)
from tests.support.factories import created, updated, us, validated, won

DEAL_VALUE = (
    b'{"events":[["ev-3",1770717600000000,102,"created",{"rep_id":"rep-1","team_id":"team-1",'
    b'"customer_id":"cust-1","amount":7000000,"channel":"email","segment":"smb"}],'
    b'["ev-4",1770631200000000,103,"won",{}],'
    b'["ev-8",1770973200000000,104,"updated",{"rep_id":"rep-9"}]]}'
)
CUSTOMER_VALUE = (
    b'{"d-1":[[4096,101,[1770801000000000,"rep-1","team-1","email"]],[4098,106,null]],'
    b'"d-2":[[4097,103,[1770801000000000,"rep-1","team-1",null,"smb"]]]}'
)
WON_AT = us("2026-02-11T09:10:00Z")


def test_a_deal_value_decodes_to_named_events_and_encodes_to_the_same_bytes():
    events = deal_events_from_wire(orjson.loads(DEAL_VALUE))
    assert [(eid, e.seq, e.kind) for eid, e in events.items()] == [
        ("ev-3", 102, DealEventKind.CREATED),
        ("ev-4", 103, DealEventKind.WON),
        ("ev-8", 104, DealEventKind.UPDATED),
    ]
    assert orjson.dumps(deal_events_to_wire(events)) == DEAL_VALUE


def test_the_deal_fold_writes_the_bytes_it_wrote_before_the_shapes_were_named():
    events = validated(
        [
            created("d-2", "2026-02-10T10:00:00Z", event_id="ev-3", amount=7, segment="smb"),
            won("d-2", "2026-02-09T10:00:00Z", event_id="ev-4"),
            updated("d-2", "2026-02-13T09:00:00Z", event_id="ev-8", rep_id="rep-9"),
        ]
    )
    deals: dict = {}
    incoming = [
        IncomingDealEvent(e.deal_id, e.event_id, deal_event_of(e, 102 + i))
        for i, e in enumerate(events)
    ]
    fold_deal_batch(deals, incoming)
    assert orjson.dumps(deals["d-2"]) == DEAL_VALUE


def test_a_customer_value_decodes_to_win_states_and_encodes_to_the_same_bytes():
    history = customer_history_from_wire(orjson.loads(CUSTOMER_VALUE))
    assert history["d-1"] == [
        DealWinState(4096, 101, CustomerWin(WON_AT, "d-1", "rep-1", "team-1", "email")),
        DealWinState(4098, 106, None),
    ]
    assert history["d-2"][0].win == CustomerWin(WON_AT, "d-2", "rep-1", "team-1", None, "smb")
    assert orjson.dumps(customer_history_to_wire(history)) == CUSTOMER_VALUE


def test_the_customer_fold_writes_the_bytes_it_wrote_before_the_shapes_were_named():
    plain = CustomerWin(WON_AT, "d-1", "rep-1", "team-1", "email")
    segmented = CustomerWin(WON_AT, "d-2", "rep-1", "team-1", None, "smb")
    changes = [
        CustomerWinChange("cust-1", "d-1", plain, 101, offset=4096),
        CustomerWinChange("cust-1", "d-2", segmented, 103, offset=4097),
        CustomerWinChange("cust-1", "d-1", None, 106, offset=4098),
    ]
    customers: dict = {}
    fold_customer_batch(customers, changes)
    assert orjson.dumps(customers["cust-1"]) == CUSTOMER_VALUE


@pytest.mark.parametrize(
    "value",
    [
        None,
        CustomerWin(WON_AT, "d-1", "rep-1", "team-1", "email"),
        CustomerWin(WON_AT, "d-1", "rep-1", "team-1", None),
        CustomerWin(WON_AT, "d-1", "rep-1", "team-1", "email", "smb"),
    ],
)
def test_a_win_round_trips_through_its_array(value):
    assert win_from_wire("d-1", win_to_wire(value)) == value


def test_a_v1_win_keeps_its_four_elements_and_a_segment_is_appended():
    assert win_to_wire(CustomerWin(WON_AT, "d-1", "r", "t", "email")) == [WON_AT, "r", "t", "email"]
    with_segment = win_to_wire(CustomerWin(WON_AT, "d-1", "r", "t", None, "smb"))
    assert with_segment == [WON_AT, "r", "t", None, "smb"]


def test_elements_a_later_format_appends_to_a_win_are_ignored_and_a_short_win_is_refused():
    later = win_from_wire("d-1", [WON_AT, "r", "t", "email", "smb", "appended"])
    assert later == CustomerWin(WON_AT, "d-1", "r", "t", "email", "smb")
    with pytest.raises(TypeError):
        win_from_wire("d-1", [WON_AT, "r", "t"])
