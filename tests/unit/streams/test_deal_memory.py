"""Closed deals forgotten by stream time (``streams.deal_memory``): which deals go and when.

The fold-deals steps run on dict tables (``tests.support.agent_fakes.RangeDict`` lists keys by
range as ``StoredTable`` does); a deal's events are native events at whole days of one year.
"""

from datetime import UTC, datetime, timedelta

import pytest

from events.models import EventPolicy, validate_event
from projections.deal import DealEvent, DealEventKind
from projections.normalize import deal_event_of
from streams.apply_steps import DealMemory, fold_deal_parts
from streams.deal_memory import (
    DEAL_CLOCK_KEY,
    closed_day,
    forget_closed_deals,
    track_closed_deals,
)
from streams.folds import DealBatchResult, IncomingDealEvent
from streams.retention import day_text, read_clock, utc_day
from tests.support.agent_fakes import RangeDict

START = datetime(2025, 1, 1, 9, tzinfo=UTC)
DAY_US = 86_400 * 1_000_000
MEMORY = 100
FIRST_DAY = utc_day(int(START.timestamp()) * 1_000_000)


def at(day: int) -> str:
    return (START + timedelta(days=day)).isoformat()


def deal_event(event_id: str, kind: str, day: int, deal_id: str = "d-1", **attrs) -> dict:
    return {
        "event_id": event_id,
        "type": f"deal.{kind}",
        "occurred_at": at(day),
        "deal_id": deal_id,
        **attrs,
    }


def created(deal_id: str, day: int) -> dict:
    return deal_event(
        f"c-{deal_id}",
        "created",
        day,
        deal_id,
        rep_id="rep-a",
        team_id="team-1",
        customer_id=f"cu-{deal_id}",
        amount=100,
    )


class DealFold:
    """Fold-deals of one partition with a memory of MEMORY days, batch by batch."""

    def __init__(self) -> None:
        self.deals, self.index = RangeDict(), RangeDict()
        self.offset = 0
        self.policy = EventPolicy(clock=lambda: START + timedelta(days=2000))

    def fold(self, *events: dict) -> DealBatchResult:
        batch = []
        for raw in events:
            event = validate_event(raw, self.policy)
            batch.append(
                IncomingDealEvent(event.deal_id, event.event_id, deal_event_of(event, self.offset))
            )
            self.offset += 1
        memory = DealMemory(lambda partition: self.index, MEMORY)
        result, _ = fold_deal_parts(lambda partition: self.deals, batch, MEMORY, memory)
        return result

    def listed(self) -> list[str]:
        return [key for key in sorted(self.index) if key != DEAL_CLOCK_KEY]


@pytest.fixture
def folds() -> DealFold:
    return DealFold()


def events_of(*kinds_days: tuple[DealEventKind, int]) -> dict[str, DealEvent]:
    return {
        f"e{i}": DealEvent(day * DAY_US + 3_600_000_000, i, kind, {})
        for i, (kind, day) in enumerate(kinds_days)
    }


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ({}, None),
        (events_of((DealEventKind.CREATED, 10)), None),
        (events_of((DealEventKind.CREATED, 10), (DealEventKind.WON, 12)), 12),
        (events_of((DealEventKind.CREATED, 10), (DealEventKind.LOST, 15)), 15),
        (events_of((DealEventKind.WON, 12), (DealEventKind.UPDATED, 30)), 30),
        (events_of((DealEventKind.WON, 12), (DealEventKind.REOPENED, 20)), None),
        (events_of((DealEventKind.LOST, 40), (DealEventKind.CREATED, 10)), 40),
    ],
)
def test_a_deal_is_closed_on_the_day_of_its_latest_event_only_while_won_or_lost(events, expected):
    assert closed_day(events) == expected


def test_a_closed_deal_is_listed_under_its_day_and_an_open_one_is_not(folds):
    folds.fold(created("d-1", 0), created("d-2", 0), deal_event("w-1", "won", 3, "d-1"))
    assert folds.listed() == [day_text(FIRST_DAY + 3) + "d-1"]
    clock = read_clock(folds.index, DEAL_CLOCK_KEY)
    assert clock.horizon == FIRST_DAY + 3 - MEMORY


def test_a_closed_deal_is_forgotten_once_stream_time_is_memory_days_past_its_last_event(folds):
    folds.fold(created("d-1", 0), deal_event("w-1", "won", 3, "d-1"), created("d-2", 1))
    folds.fold(created("d-3", 3 + MEMORY))
    assert "d-1" in folds.deals, "its day is the horizon itself: still kept"
    assert folds.fold(created("d-4", 4 + MEMORY)).forgotten == 1
    assert "d-1" not in folds.deals
    assert {"d-2", "d-3", "d-4"} <= set(folds.deals), "open deals are never forgotten"
    assert folds.listed() == []


def test_a_deal_reopened_after_it_was_listed_is_kept_and_its_stale_entry_dropped(folds):
    folds.fold(created("d-1", 0), deal_event("w-1", "won", 3, "d-1"))
    folds.fold(deal_event("r-1", "reopened", 50, "d-1"))
    folds.fold(created("d-9", 200))
    assert "d-1" in folds.deals
    assert folds.listed() == []


def test_a_later_event_moves_a_closed_deal_to_the_later_day(folds):
    folds.fold(created("d-1", 0), deal_event("w-1", "won", 3, "d-1"))
    folds.fold(deal_event("u-1", "updated", 60, "d-1", rep_id="rep-b"))
    folds.fold(created("d-9", 150))
    assert "d-1" in folds.deals
    assert folds.listed() == [day_text(FIRST_DAY + 60) + "d-1"]
    folds.fold(created("d-10", 161))
    assert "d-1" not in folds.deals


def test_late_events_of_an_old_deal_are_listed_where_the_next_prune_looks(folds):
    folds.fold(created("d-9", 300))
    folds.fold(created("d-1", 0), deal_event("w-1", "won", 3, "d-1"))
    clock = read_clock(folds.index, DEAL_CLOCK_KEY)
    assert folds.listed() == [day_text(clock.pruned_below) + "d-1"]
    assert "d-1" in folds.deals, "not in the batch that folded it"
    folds.fold(created("d-10", 301))
    assert "d-1" not in folds.deals


def test_forgetting_reads_only_the_days_between_the_last_prune_and_the_horizon():
    deals = {"d-1": None, "d-2": None}
    index = RangeDict({day_text(5) + "d-1": 0, day_text(50) + "d-2": 0})
    assert forget_closed_deals(deals, index, below=40, lower=10) == 0
    assert sorted(index) == [day_text(5) + "d-1", day_text(50) + "d-2"]


def test_no_stream_time_means_no_clock_and_nothing_forgotten():
    deals, index = RangeDict(), RangeDict()
    assert track_closed_deals(deals, index, {"d-1": 3}, None, MEMORY) == 0
    assert DEAL_CLOCK_KEY not in index
    assert sorted(index) == [day_text(3) + "d-1"]
