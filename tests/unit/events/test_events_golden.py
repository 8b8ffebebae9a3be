"""The golden event log, the shape of InvalidEvent, and a property over arbitrary JSON input."""

import json
import pickle
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.models import EVENT_TYPES, EventBase, EventPolicy, InvalidEvent, validate_event
from tests.support.golden import GOLDEN_DIR

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
GOLDEN = GOLDEN_DIR / "events.jsonl"
PYDANTIC_WORDING = ("Input should", "pydantic", "http", "Value error", "validation error")

BAD_TIMESTAMP = (
    "occurred_at: must be an RFC 3339 timestamp with an offset (e.g. 2026-02-14T15:20:00Z)"
)
EXPECTED_REFUSALS = {
    "bad-1": (
        "type: unknown event type 'deal.teleported' (expected one of deal.created, "
        "deal.updated, deal.won, deal.lost, deal.reopened, call.logged, cost.incurred)"
    ),
    "bad-2": BAD_TIMESTAMP,
    "bad-3": "amount: must be a number >= 0, not -5",
    "bad-4": "category: must be 'marketing' or 'sales', not 'party'",
    "bad-5": "team_id: required for call.logged",
    "bad-7": BAD_TIMESTAMP,
    "bad-8": "amount: must be a number >= 0, not a string",
    "": "event_id: must be a string of 1 to 128 characters",
}


def golden_objects() -> list[dict]:
    with GOLDEN.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def outcomes() -> tuple[list, dict[str, list[str]]]:
    accepted, refused = [], {}
    for obj in golden_objects():
        try:
            accepted.append(validate_event(obj, POLICY))
        except InvalidEvent as error:
            refused[obj["event_id"]] = error.reasons
    return accepted, refused


def test_every_valid_golden_event_validates_and_exactly_the_8_invalid_ones_are_refused():
    accepted, refused = outcomes()
    assert len(golden_objects()) == 2354
    assert len(accepted) == 2346
    assert {event_id: reasons for event_id, reasons in refused.items()} == {
        event_id: [reason] for event_id, reason in EXPECTED_REFUSALS.items()
    }


def test_golden_events_keep_their_id_type_and_event_time():
    accepted, _ = outcomes()
    originals = [obj for obj in golden_objects() if obj["event_id"] not in EXPECTED_REFUSALS]
    assert [(e.event_id, e.type, e.occurred_at) for e in accepted] == [
        (o["event_id"], o["type"], datetime.fromisoformat(o["occurred_at"])) for o in originals
    ]
    assert {event.type for event in accepted} == set(EVENT_TYPES)


def test_an_invalid_event_lists_every_problem_at_once():
    obj = {
        "event_id": "",
        "type": "deal.created",
        "occurred_at": "2026-02-14T15:30:00Z",
        "deal_id": "d-1",
        "team_id": "t-1",
        "customer_id": 3,
        "amount": "12",
    }
    with pytest.raises(InvalidEvent) as refused:
        validate_event(obj, POLICY)
    assert refused.value.reasons == [
        "event_id: must be a string of 1 to 128 characters",
        "occurred_at: must not be more than 5 minutes in the future "
        "(got 2026-02-14T15:30:00Z, now is 2026-02-14T15:20:00Z)",
        "rep_id: required for deal.created",
        "customer_id: must be a string of 1 to 128 characters",
        "amount: must be a number >= 0, not a string",
    ]
    assert str(refused.value) == "; ".join(refused.value.reasons)


@pytest.mark.parametrize(
    ("reasons", "text"),
    [(["a: x"], "a: x"), (["a: x", "b: y"], "a: x; b: y"), ([], "event: is not valid")],
)
def test_invalid_event_is_a_value_error_whose_text_joins_its_reasons(reasons, text):
    error = InvalidEvent(reasons)
    assert isinstance(error, ValueError)
    assert str(error) == text


def test_invalid_event_survives_pickling_with_its_reasons():
    error = pickle.loads(pickle.dumps(InvalidEvent(["a: x", "b: y"])))
    assert error.reasons == ["a: x", "b: y"]
    assert str(error) == "a: x; b: y"


def test_a_hostile_value_is_quoted_short_in_the_reason():
    with pytest.raises(InvalidEvent) as refused:
        validate_event({"type": "x" * 10_000}, POLICY)
    assert len(str(refused.value)) < 200


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
TIMESTAMPS = (
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda moment: moment.isoformat() + "Z"
    )
    | JSON_VALUES
)
FIELD_VALUES = {
    name: JSON_VALUES | st.text(min_size=1, max_size=130)
    for name in (
        "event_id",
        "deal_id",
        "rep_id",
        "team_id",
        "customer_id",
        "channel",
        "segment",
        "category",
        "currency",
        "source",
        "reason",
    )
} | {
    "amount": JSON_VALUES | st.floats(min_value=0, max_value=2e12),
    "duration_s": JSON_VALUES,
    "probability": JSON_VALUES | st.floats(min_value=0, max_value=1),
    "occurred_at": TIMESTAMPS,
}
EVENT_LIKE = st.fixed_dictionaries(
    {"type": st.sampled_from(EVENT_TYPES) | JSON_VALUES},
    optional=FIELD_VALUES,
)
VALID_SAMPLES = [
    {
        "type": "deal.created",
        "deal_id": "d",
        "rep_id": "r",
        "team_id": "t",
        "customer_id": "c",
        "amount": 1.5,
        "channel": "email",
        "segment": "smb",
        "probability": 0.5,
    },
    {"type": "deal.lost", "deal_id": "d", "reason": "price", "currency": "EUR"},
    {"type": "call.logged", "rep_id": "r", "team_id": "t", "duration_s": 30},
    {"type": "cost.incurred", "amount": 2, "category": "sales", "team_id": "t"},
]


@st.composite
def mutated_valid_events(draw) -> dict:
    """A valid event with one field replaced by arbitrary JSON: most inputs pass the type check."""
    base = {
        "event_id": "ev-1",
        "occurred_at": "2026-02-14T15:00:00Z",
        **draw(st.sampled_from(VALID_SAMPLES)),
    }
    field = draw(st.sampled_from(sorted({*base, *FIELD_VALUES})))
    return base | {field: draw(FIELD_VALUES.get(field, JSON_VALUES))}


@settings(max_examples=500, deadline=None, database=None)
@given(st.one_of(JSON_VALUES, EVENT_LIKE, mutated_valid_events()))
def test_validate_event_raises_nothing_but_invalid_event_for_any_json_like_input(obj):
    try:
        event = validate_event(obj, POLICY)
    except InvalidEvent as error:
        assert error.reasons
        for reason in error.reasons:
            field, _, rule = reason.partition(": ")
            assert field and rule
            assert not any(word in reason for word in PYDANTIC_WORDING)
    else:
        assert isinstance(event, EventBase)
        assert event.type in EVENT_TYPES
        assert event.occurred_at <= NOW + POLICY.max_future
