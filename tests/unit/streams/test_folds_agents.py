"""Each batch fold of ``streams.folds`` on its own: what it writes and what it sends on."""

from dataclasses import replace

import pytest

from projections.deal import CustomerWin
from projections.normalize import deal_event_of
from projections.timebase import quarter_of
from streams.fold_values import customer_history_from_wire
from streams.folds import (
    CustomerWinChange,
    IncomingCall,
    IncomingDealEvent,
    fold_activity_batch,
    fold_customer_batch,
    fold_deal_batch,
)
from tests.support.factories import created, lost, reopened, updated, us, validated, won

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
    assert first.customer_changes == [CustomerWinChange("cust-1", "d-1", win(), source_offset=1)]
    if changes is None:
        return
    result = fold_deal_batch(deals, incoming(second, first_seq=10))
    assert result.customer_changes == [replace(c, source_offset=10) for c in changes]


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
    assert (not result.corrections.is_empty()) is emits


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
    assert (result.corrections.is_empty(), result.customer_changes) == (True, [])
    assert list(deals) == ["d-x"]


def acquisitions(corrections) -> dict[str, dict[int, int]]:
    return {
        key: {c.quarter: c.tally.counts["new_customers"] for c in entries}
        for key, entries in corrections.items()
        if key.startswith("rep|")
    }


def changes_at(offset: int, *changes: CustomerWinChange) -> list[CustomerWinChange]:
    """Changes as read from the customer-wins topic, one offset each from ``offset`` on."""
    return [replace(c, offset=offset + i, source_offset=offset + i) for i, c in enumerate(changes)]


def current_wins(customers: dict) -> dict:
    """Per customer and deal, the win of the state with the highest source offset."""
    return {
        customer: {
            deal: max(states, key=lambda s: s.source_offset).win
            for deal, states in customer_history_from_wire(value).items()
        }
        for customer, value in customers.items()
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
    for offset, (changes, expected) in enumerate(steps):
        assert acquisitions(fold_customer_batch(customers, changes_at(offset, *changes))) == (
            expected
        )
    assert current_wins(customers) == {"c": {"d-1": None, "d-2": None}}


def test_several_changes_of_one_customer_in_a_batch_net_out():
    customers = {}
    corrections = fold_customer_batch(
        customers,
        changes_at(0, CustomerWinChange("c", "d-1", win()), CustomerWinChange("c", "d-1", None)),
    )
    entries = dict(corrections.items())["rep|rep-1"]
    assert sum(c.tally.counts.get("new_customers", 0) for c in entries) == 0
    assert current_wins(customers) == {"c": {"d-1": None}}


def test_a_replayed_customer_change_emits_the_same_corrections_as_the_first_time():
    customers = {}
    changes = changes_at(0, CustomerWinChange("c", "d-1", win()))
    first = fold_customer_batch(customers, changes)
    replayed = fold_customer_batch(customers, changes)
    assert (
        acquisitions(replayed) == acquisitions(first) == {"rep|rep-1": {quarter_of(us(WON_AT)): 1}}
    )


def test_an_older_state_of_a_deal_replayed_after_a_newer_one_does_not_win_the_deal_back():
    customers = {}
    fold_customer_batch(customers, [CustomerWinChange("c", "d-1", win(), 5, offset=0)])
    fold_customer_batch(customers, [CustomerWinChange("c", "d-1", None, 9, offset=1)])
    replay = fold_customer_batch(customers, [CustomerWinChange("c", "d-1", win(), 5, offset=2)])
    assert acquisitions(replay) == {}
    assert current_wins(customers) == {"c": {"d-1": None}}


def test_activity_is_counted_once_per_routing_key_and_event_id():
    seen = {}
    at = us(WON_AT)
    batch = [IncomingCall("rep-1", "ev-1", at, "rep-1", "team-1", offset=n) for n in (4, 7, 9)]
    corrections = fold_activity_batch(seen, batch)
    [correction] = dict(corrections.items())["rep|rep-1"]
    assert (correction.offset, correction.tally.counts) == (4, {"calls": 1})
    assert fold_activity_batch(seen, batch[1:]).is_empty()
    assert list(seen.values()) == [4]


def test_a_replayed_call_counts_again_for_the_buckets_to_discard_it():
    seen = {}
    call = IncomingCall("rep-1", "ev-1", us(WON_AT), "rep-1", "team-1", offset=4)
    first = fold_activity_batch(seen, [call])
    replayed = fold_activity_batch(seen, [call])
    assert dict(replayed.items()) == dict(first.items())


def test_a_replayed_deal_event_emits_the_same_corrections_whether_or_not_its_write_was_stored():
    stored, lost = {}, {}
    fold_deal_batch(stored, incoming(DEAL[:1]))
    fold_deal_batch(lost, incoming(DEAL[:1]))
    first = fold_deal_batch(stored, incoming(DEAL[1:], first_seq=1))  # write stored ...
    replay_stored = fold_deal_batch(stored, incoming(DEAL[1:], first_seq=1))  # ... then replayed
    replay_lost = fold_deal_batch(lost, incoming(DEAL[1:], first_seq=1))  # write never stored
    assert dict(replay_stored.corrections.items()) == dict(first.corrections.items())
    assert dict(replay_lost.corrections.items()) == dict(first.corrections.items())
    assert replay_stored.customer_changes == first.customer_changes
