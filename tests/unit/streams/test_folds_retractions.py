"""``streams.folds`` with dict tables: corrections retract exactly, duplicates have no effect.

The yardstick is always the from-scratch recomputation over the same events (contract section 2).
"""

import pytest

from projections.timebase import BucketGrid
from streams.routing import parse_composite_key
from tests.support.factories import (
    FoldTables,
    bucket_table_of,
    call,
    cost,
    created,
    lost,
    reopened,
    store_of,
    updated,
    won,
)

DEAL = [created("d-1", "2026-02-10T09:00:00Z"), won("d-1", "2026-02-12T09:00:00Z", amount=120)]
OTHER = [
    created("d-2", "2026-02-01T09:00:00Z", rep_id="rep-2", team_id="team-2", channel="event"),
    won("d-2", "2026-02-05T09:00:00Z"),
]

CORRECTIONS = {
    "reopen": [reopened("d-1", "2026-02-13T09:00:00Z")],
    "reopen-then-lose": [
        reopened("d-1", "2026-02-13T09:00:00Z"),
        lost("d-1", "2026-02-13T10:00:00Z"),
    ],
    "lose-after-win": [lost("d-1", "2026-02-13T09:00:00Z")],
    "re-assign": [
        updated("d-1", "2026-02-13T09:00:00Z", rep_id="rep-2", team_id="team-2", channel="linkedin")
    ],
    "re-assign-out-of-order": [updated("d-1", "2026-02-11T09:00:00Z", rep_id="rep-3")],
    "new-customer": [updated("d-1", "2026-02-13T09:00:00Z", customer_id="cust-9")],
    "new-amount": [updated("d-1", "2026-02-13T09:00:00Z", amount=999.99)],
    "win-moves-hour": [reopened("d-1", "2026-02-12T10:00:00Z"), won("d-1", "2026-02-12T11:00:00Z")],
    "win-moves-back-in-time": [
        reopened("d-1", "2026-02-12T10:00:00Z"),
        won("d-1", "2026-02-01T11:00:00Z"),
    ],
    "tie-reopen-at-win-instant": [reopened("d-1", "2026-02-12T09:00:00Z")],
    "earlier-win-of-same-customer": OTHER,
    "earlier-win-then-its-reopen": [*OTHER, reopened("d-2", "2026-02-06T09:00:00Z")],
    "created-arrives-after-won": [created("d-3", "2026-02-11T09:00:00Z", customer_id="cust-3")],
}


def assert_matches_recompute(tables: FoldTables, events: list[dict]) -> None:
    store = store_of(events, tables.grid.tz_name)
    assert tables.buckets == bucket_table_of(store)
    assert tables.live_keys == {
        key: sum(1 for k, _, _ in store.buckets if k == key) for key in set(store.keys())
    }


@pytest.mark.parametrize("correction", list(CORRECTIONS))
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_a_correcting_batch_leaves_exactly_the_buckets_of_a_recompute(correction, zone):
    first = [*DEAL, won("d-3", "2026-02-12T12:00:00Z", customer_id="cust-3")]
    tables = FoldTables(grid=BucketGrid(zone))
    tables.feed_batches([first])
    assert_matches_recompute(tables, first)
    tables.feed_batches([CORRECTIONS[correction]])
    assert_matches_recompute(tables, first + CORRECTIONS[correction])


@pytest.mark.parametrize("correction", list(CORRECTIONS))
def test_the_correction_in_the_same_batch_gives_the_same_tables_as_in_its_own_batch(correction):
    events = [*DEAL, *CORRECTIONS[correction]]
    together = FoldTables().feed_batches([events])
    apart = FoldTables().feed_batches([DEAL, CORRECTIONS[correction]])
    assert (together.buckets, together.live_keys, together.customers) == (
        apart.buckets,
        apart.live_keys,
        apart.customers,
    )


@pytest.mark.parametrize(
    ("correction", "gone"),
    [
        pytest.param(
            CORRECTIONS["re-assign"], {"rep|rep-1", "team|team-1", "channel|email"}, id="re-assign"
        ),
        pytest.param(
            [updated("d-1", "2026-02-13T09:00:00Z", channel="event")],
            {"channel|email"},
            id="channel-change",
        ),
    ],
)
def test_a_scope_key_whose_buckets_all_cancel_leaves_both_tables(correction, gone):
    tables = FoldTables().feed_batches([DEAL])
    assert gone <= set(tables.live_keys)
    tables.feed_batches([correction])
    assert gone.isdisjoint(tables.live_keys)
    assert gone.isdisjoint(parse_composite_key(key)[0] for key in tables.buckets)
    assert "company|" in tables.live_keys


def test_reopening_the_only_win_removes_the_customer_and_its_acquisition():
    tables = FoldTables().feed_batches([DEAL])
    assert set(tables.customers) == {"cust-1"}
    tables.feed_batches([CORRECTIONS["reopen"]])
    assert tables.customers == {}
    assert_matches_recompute(tables, [*DEAL, *CORRECTIONS["reopen"]])


@pytest.mark.parametrize(
    "batches",
    [
        pytest.param([[*DEAL, DEAL[1]]], id="won-twice-in-one-batch"),
        pytest.param([DEAL, [DEAL[1]]], id="won-again-next-batch"),
        pytest.param([DEAL, DEAL, DEAL], id="whole-deal-redelivered"),
        pytest.param([[DEAL[1]], [DEAL[1], DEAL[0]], [DEAL[0]]], id="reversed-with-repeats"),
    ],
)
def test_duplicate_deal_events_have_no_effect(batches):
    tables = FoldTables().feed_batches(batches)
    assert tables.buckets == FoldTables().feed_batches([DEAL]).buckets
    assert [len(record["events"]) for record in tables.deals.values()] == [2]


def test_a_redelivered_win_after_a_reopen_does_not_win_the_deal_again():
    reopen = CORRECTIONS["reopen"]
    tables = FoldTables().feed_batches([DEAL, reopen, [DEAL[1]]])
    assert_matches_recompute(tables, [*DEAL, *reopen])
    assert tables.customers == {}


ACTIVITY = [
    call("2026-02-12T10:00:00Z"),
    cost("2026-02-12T10:00:00Z", team_id="team-1", channel="email"),
    cost("2026-02-12T11:00:00Z", category="sales"),
]


@pytest.mark.parametrize(
    "batches",
    [
        pytest.param([ACTIVITY + ACTIVITY], id="within-a-batch"),
        pytest.param([ACTIVITY, ACTIVITY], id="across-batches"),
        pytest.param([ACTIVITY[::-1], ACTIVITY[:1], ACTIVITY[1:]], id="reordered"),
    ],
)
def test_duplicate_calls_and_costs_count_once(batches):
    tables = FoldTables().feed_batches(batches)
    assert_matches_recompute(tables, ACTIVITY)
    assert len(tables.seen) == len(ACTIVITY)


def test_a_duplicate_only_batch_emits_nothing_and_writes_nothing():
    tables = FoldTables().feed_batches([[*DEAL, *ACTIVITY]])
    snapshot = {
        name: repr(getattr(tables, name))
        for name in ("deals", "customers", "seen", "buckets", "live_keys")
    }
    tables.feed_batches([[*DEAL, *ACTIVITY]])
    assert snapshot == {name: repr(getattr(tables, name)) for name in snapshot}
