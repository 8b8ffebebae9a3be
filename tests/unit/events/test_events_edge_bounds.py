"""Issue 13: the instants and converted amounts the edge accepts are ones every agent can fold.

An event of 0001-01-01 was accepted (202) and crashed the apply agent of a non-UTC deployment; a
1e12 USD deal reported in JPY at 150 was 1.5e20 micro-units, beyond what a Kafka record's JSON
encoder writes. Both are refused now, at the HTTP edge and, with the same models and policy, by
the worker that reads an event produced straight onto a topic (dead-lettered with the reason).
"""

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from events.currency import parse_rates
from events.models import EventPolicy, InvalidEvent, validate_event
from events.timestamps import EARLIEST_INSTANT, LATEST_INSTANT
from events.topics import TopicNames
from projections.normalize import amount_micros, deal_event_of
from streams.pipeline import placed_event

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
EARLIEST_RULE = "occurred_at: must not be before 1970-01-01T00:00:00Z"
JPY_POLICY = EventPolicy(
    reporting_currency="JPY",
    rates=parse_rates("date,currency,rate\n2026-01-01,USD,150\n", "JPY"),
    clock=lambda: NOW,
)
NAMES = TopicNames("")


def call_at(occurred_at: object) -> dict:
    return {
        "event_id": "ev-1",
        "type": "call.logged",
        "occurred_at": occurred_at,
        "rep_id": "r-1",
        "team_id": "t-1",
    }


def created_in(currency: str, amount: float) -> dict:
    return {
        "event_id": "ev-1",
        "type": "deal.created",
        "occurred_at": "2026-02-14T10:00:00Z",
        "deal_id": "d-1",
        "rep_id": "r-1",
        "team_id": "t-1",
        "customer_id": "c-1",
        "amount": amount,
        "currency": currency,
    }


def reasons_for(obj: dict, policy: EventPolicy = POLICY) -> list[str]:
    with pytest.raises(InvalidEvent) as refused:
        validate_event(obj, policy)
    return refused.value.reasons


def worker_reasons_for(obj: dict, topic: str, key: bytes, policy: EventPolicy) -> list[str]:
    """What the worker dead-letters an event produced straight onto its topic for."""
    with pytest.raises(InvalidEvent) as refused:
        placed_event(topic, key, orjson.dumps(obj), policy, NAMES)
    return refused.value.reasons


@pytest.mark.parametrize(
    "occurred_at",
    [
        pytest.param("0001-01-01T00:00:00Z", id="year-1"),
        pytest.param("1900-06-01T12:00:00+02:00", id="1900"),
        pytest.param("1969-12-31T23:59:59.999999Z", id="a-microsecond-before"),
        pytest.param("1970-01-01T00:59:59+01:00", id="the-epoch-in-local-time-is-still-before"),
        pytest.param(datetime(1, 1, 1, tzinfo=UTC), id="python-datetime-min"),
    ],
)
def test_an_event_before_the_unix_epoch_is_refused_with_a_reason_naming_the_bound(occurred_at):
    assert reasons_for(call_at(occurred_at)) == [EARLIEST_RULE]


@pytest.mark.parametrize(
    "occurred_at",
    ["1970-01-01T00:00:00Z", "1970-01-01T01:00:00+01:00", "1969-12-31T14:00:00-10:00"],
)
def test_an_event_at_the_unix_epoch_is_accepted_whatever_its_offset(occurred_at):
    assert validate_event(call_at(occurred_at), POLICY).occurred_at == EARLIEST_INSTANT


def test_the_earliest_bound_holds_without_a_policy_too():
    with pytest.raises(ValueError, match="must not be before 1970-01-01T00:00:00Z"):
        validate_event(call_at("1969-01-01T00:00:00Z"), None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("occurred_at", "reason"),
    [
        ("9000-01-01T00:00:00Z", "occurred_at: must be before 9000-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59Z", "occurred_at: must be before 9000-01-01T00:00:00Z"),
    ],
)
def test_an_event_at_or_after_the_latest_instant_is_refused_even_by_a_lenient_policy(
    occurred_at, reason
):
    lenient = EventPolicy(clock=lambda: NOW, max_future=timedelta(days=4_000_000))
    assert reasons_for(call_at(occurred_at), lenient) == [reason]
    just_before = (LATEST_INSTANT - timedelta(microseconds=1)).isoformat()
    assert validate_event(call_at(just_before), lenient).occurred_at < LATEST_INSTANT


@pytest.mark.parametrize("occurred_at", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_a_worker_dead_letters_an_event_before_the_epoch_produced_straight_onto_a_topic(
    occurred_at,
):
    reasons = worker_reasons_for(call_at(occurred_at), "sales.call-events", b"r-1", POLICY)
    assert reasons == [EARLIEST_RULE]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (
            1e12,
            "amount: 1000000000000.0 USD is 150,000,000,000,000 JPY, more than the maximum "
            "1,000,000,000,000 in the reporting currency",
        ),
        (
            6_666_666_666.67,
            "amount: 6666666666.67 USD is 1,000,000,000,000.5 JPY, more than the maximum "
            "1,000,000,000,000 in the reporting currency",
        ),
    ],
)
def test_an_amount_beyond_the_maximum_once_converted_is_refused_at_the_edge_and_by_the_worker(
    amount, reason
):
    obj = created_in("USD", amount)
    assert reasons_for(obj, JPY_POLICY) == [reason]
    assert worker_reasons_for(obj, "sales.deal-events", b"d-1", JPY_POLICY) == [reason]


@pytest.mark.parametrize("event_type", ["deal.won", "deal.updated", "cost.incurred"])
def test_every_event_with_an_amount_is_bounded_once_converted(event_type):
    obj = {
        "event_id": "ev-1",
        "type": event_type,
        "occurred_at": "2026-02-14T10:00:00Z",
        "deal_id": "d-1",
        "category": "sales",
        "amount": 1e12,
        "currency": "USD",
    }
    [reason] = reasons_for(obj, JPY_POLICY)
    assert reason.startswith("amount: 1000000000000.0 USD is 150,000,000,000,000 JPY")


@pytest.mark.parametrize(
    ("amount", "micros"),
    [
        (6_666_666_666.66, 999_999_999_999_000_000),
        (6_666_666_666.666666, 999_999_999_999_999_900),
    ],
)
def test_an_amount_at_or_under_the_maximum_once_converted_is_accepted_and_fits_64_bits(
    amount, micros
):
    event = validate_event(created_in("USD", amount), JPY_POLICY)
    assert amount_micros(event, JPY_POLICY.rates) == micros
    folded = deal_event_of(event, 0, JPY_POLICY.rates).attrs["amount"]
    assert folded == micros < 2**63
    assert orjson.loads(orjson.dumps(folded)) == micros


def test_an_amount_in_the_reporting_currency_keeps_its_own_bound_and_reason():
    [reason] = reasons_for(created_in("JPY", 1e12 + 1), JPY_POLICY)
    assert reason.startswith("amount: must be a number between 0 and 1,000,000,000,000")
    assert validate_event(created_in("JPY", 1e12), JPY_POLICY).amount == 1e12
