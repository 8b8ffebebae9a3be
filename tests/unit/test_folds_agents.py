"""Each batch fold of ``streams.folds`` on its own: what it writes and what it sends on."""

from datetime import date

import pytest

from projections.deal import CustomerWin
from projections.effects import Deltas, add_call
from projections.normalize import deal_event_of
from projections.tally import Tally
from projections.timebase import BucketGrid, day_index, quarter_of
from streams.folds import (
    CustomerWinChange,
    IncomingCall,
    IncomingDealEvent,
    apply_kpi_batch,
    bucket_key,
    fold_activity_batch,
    fold_customer_batch,
    fold_deal_batch,
    win_from_json,
    win_to_json,
)
from tests.unit.factories import created, lost, reopened, updated, us, validated, won

WON_AT = "2026-02-12T09:00:00Z"
DEAL = [created("d-1", "2026-02-10T09:00:00Z"), won("d-1", WON_AT)]


def incoming(objects, first_seq=0):
    """Deal events as the deal agent receives them; ``seq`` is the partition offset."""
    return [
        IncomingDealEvent(e.deal_id, e.event_id, deal_event_of(e, first_seq + i))
        for i, e in enumerate(validated(objects))
    ]


def win(rep="rep-1", team="team-1", channel="email", at=WON_AT, deal_id="d-1"):
    return CustomerWin(us(at), deal_id, rep, team, channel)


@pytest.mark.parametrize(
    ("second", "changes"),
    [
        pytest.param([], None, id="first-win"),
        pytest.param(
            [reopened("d-1", "2026-02-13T09:00:00Z")],
            [CustomerWinChange("cust-1", "d-1", None)],
            id="reopen",
        ),
        pytest.param(
            [lost("d-1", "2026-02-13T09:00:00Z")],
            [CustomerWinChange("cust-1", "d-1", None)],
            id="lost",
        ),
        pytest.param(
            [updated("d-1", "2026-02-13T09:00:00Z", customer_id="cust-2")],
            [CustomerWinChange("cust-1", "d-1", None), CustomerWinChange("cust-2", "d-1", win())],
            id="customer-change",
        ),
        pytest.param(
            [updated("d-1", "2026-02-13T09:00:00Z", rep_id="rep-2")],
            [CustomerWinChange("cust-1", "d-1", win(rep="rep-2"))],
            id="rep-change",
        ),
        pytest.param(
            [won("d-1", "2026-02-13T09:00:00Z")],
            [CustomerWinChange("cust-1", "d-1", win(at="2026-02-13T09:00:00Z"))],
            id="win-moves",
        ),
        pytest.param([updated("d-1", "2026-02-13T09:00:00Z", amount=5)], [], id="amount-change"),
        pytest.param([DEAL[1]], [], id="duplicate"),
    ],
)
def test_a_deal_batch_tells_customers_exactly_how_the_deals_win_changed(second, changes):
    deals = {}
    first = fold_deal_batch(deals, incoming(DEAL))
    assert first.customer_changes == [CustomerWinChange("cust-1", "d-1", win())]
    if changes is None:
        return
    result = fold_deal_batch(deals, incoming(second, first_seq=10))
    assert result.customer_changes == changes


@pytest.mark.parametrize(
    ("second", "emits"),
    [
        pytest.param([DEAL[0]], False, id="duplicate"),
        pytest.param([updated("d-1", "2026-02-11T09:00:00Z")], False, id="update-without-change"),
        pytest.param(
            [updated("d-1", "2026-02-11T09:00:00Z", amount=100)], False, id="same-amount-again"
        ),
        pytest.param([updated("d-1", "2026-02-11T09:00:00Z", amount=101)], True, id="new-amount"),
    ],
)
def test_a_deal_batch_emits_corrections_only_when_the_contribution_changes(second, emits):
    deals = {}
    fold_deal_batch(deals, incoming(DEAL))
    result = fold_deal_batch(deals, incoming(second, first_seq=10))
    assert (not result.deltas.is_empty()) is emits


def test_a_deal_remembers_its_events_once_each_with_their_arrival_order():
    deals = {}
    fold_deal_batch(deals, incoming([DEAL[1], DEAL[0], DEAL[1]]))
    record = deals["d-1"]["events"]
    assert [(eid, seq, kind) for eid, _, seq, kind, _ in record] == [
        (DEAL[1]["event_id"], 0, "won"),
        (DEAL[0]["event_id"], 1, "created"),
    ]


def test_a_deal_without_owner_sends_nothing():
    deals = {}
    result = fold_deal_batch(deals, incoming([won("d-x", WON_AT, customer_id="c", amount=1)]))
    assert (result.deltas.is_empty(), result.customer_changes) == (True, [])
    assert list(deals) == ["d-x"]


@pytest.mark.parametrize("value", [None, win(), win(channel=None)])
def test_a_win_round_trips_through_its_json_form(value):
    assert win_from_json("d-1", win_to_json(value)) == value


def acquisitions(deltas: Deltas) -> dict[str, dict[int, int]]:
    return {
        key: {q: t.counts["new_customers"] for q, t in quarters}
        for key, quarters in deltas.items()
        if key.startswith("rep|")
    }


def test_customer_batches_move_the_acquisition_and_forget_customers_without_wins():
    customers = {}
    early, late = "2026-02-05T09:00:00Z", WON_AT
    q_early, q_late = quarter_of(us(early)), quarter_of(us(late))
    steps = [
        (
            [CustomerWinChange("c", "d-2", win("rep-2", at=late, deal_id="d-2"))],
            {"rep|rep-2": {q_late: 1}},
        ),
        (
            [CustomerWinChange("c", "d-1", win("rep-1", at=early))],
            {"rep|rep-2": {q_late: -1}, "rep|rep-1": {q_early: 1}},
        ),
        ([CustomerWinChange("c", "d-2", None)], {}),
        ([CustomerWinChange("c", "d-1", None)], {"rep|rep-1": {q_early: -1}}),
    ]
    for changes, expected in steps:
        assert acquisitions(fold_customer_batch(customers, changes)) == expected
    assert customers == {}


def test_several_changes_of_one_customer_in_a_batch_net_out():
    customers = {}
    deltas = fold_customer_batch(
        customers,
        [CustomerWinChange("c", "d-1", win()), CustomerWinChange("c", "d-1", None)],
    )
    assert deltas.is_empty()
    assert customers == {}


def test_activity_is_counted_once_per_routing_key_and_event_id():
    seen = {}
    at = us(WON_AT)
    batch = [IncomingCall("rep-1", "ev-1", at, "rep-1", "team-1")] * 3
    deltas = fold_activity_batch(seen, batch)
    assert dict(deltas.items())["rep|rep-1"][0][1].counts == {"calls": 1}
    assert fold_activity_batch(seen, batch).is_empty()
    assert list(seen.values()) == [at]


GRID = BucketGrid()
Q1 = quarter_of(us("2026-02-12T09:00:00Z"))
Q2 = quarter_of(us("2026-02-12T11:30:00Z"))


def call_at(quarter, sign=1):
    return [(quarter, Tally({"calls": sign}, {"rep-1": sign}, {}))]


@pytest.mark.parametrize(
    ("batches", "live", "buckets"),
    [
        pytest.param([[("team|t", call_at(Q1))]], 2, 2, id="one-quarter-hour-two-grids"),
        pytest.param(
            [[("team|t", call_at(Q1)), ("team|t", call_at(Q2))]], 3, 3, id="two-hours-one-day"
        ),
        pytest.param(
            [[("team|t", call_at(Q1)), ("team|t", call_at(Q1, -1))]],
            None,
            0,
            id="cancels-within-a-batch",
        ),
        pytest.param(
            [[("team|t", call_at(Q1))], [("team|t", call_at(Q1, -1))]],
            None,
            0,
            id="cancels-across-batches",
        ),
        pytest.param(
            [[("team|t", call_at(Q1)), ("team|t", call_at(Q2))], [("team|t", call_at(Q2, -1))]],
            2,
            2,
            id="one-hour-retracted",
        ),
        pytest.param(
            [[("team|t", call_at(Q1) + call_at(Q1 + 1, -1))]],
            None,
            0,
            id="quarter-hours-netting-out-in-their-buckets-write-nothing",
        ),
    ],
)
def test_apply_kpi_batch_keeps_only_non_empty_buckets_and_counts_them_per_key(
    batches, live, buckets
):
    table, live_keys = {}, {}
    for corrections in batches:
        apply_kpi_batch(table, live_keys, corrections, GRID)
    assert live_keys.get("team|t") == live
    assert len(table) == buckets
    assert all(not Tally.from_json(raw).is_empty() for raw in table.values())
    if live is not None:
        assert live_keys["team|t"] == len(table)


def test_apply_kpi_batch_writes_json_tallies_under_composite_keys():
    table, live_keys = {}, {}
    deltas = Deltas()
    add_call(deltas, us("2026-02-12T09:00:00Z"), "rep-1", "team-1")
    apply_kpi_batch(table, live_keys, list(deltas.items()), BucketGrid("Europe/Paris"))
    key = bucket_key("team|team-1", "l", day_index(date(2026, 2, 12)))
    assert table[key] == [{"calls": 1}, {"rep-1": 1}, {}]
    assert live_keys == {"rep|rep-1": 3, "team|team-1": 3, "company|": 3}
