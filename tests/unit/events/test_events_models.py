"""Contract section 1, rule by rule: what validate_event accepts, refuses, and how it says why."""

from datetime import UTC, datetime

import pytest

from events.models import (
    EVENT_TYPES,
    CallLogged,
    CostIncurred,
    DealCreated,
    DealLost,
    DealReopened,
    DealUpdated,
    DealWon,
    EventPolicy,
    InvalidEvent,
    validate_event,
)
from tests.support.native import REQUIRED_FIELDS

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
DROP = object()  # a payload change that removes the field
ID_RULE = "must be a string of 1 to 128 characters"

MINIMAL = REQUIRED_FIELDS
MODEL_OF = {
    "deal.created": DealCreated,
    "deal.updated": DealUpdated,
    "deal.won": DealWon,
    "deal.lost": DealLost,
    "deal.reopened": DealReopened,
    "call.logged": CallLogged,
    "cost.incurred": CostIncurred,
}
DEAL_TYPES = [t for t in EVENT_TYPES if t.startswith("deal.")]


def payload(event_type: str, **changes: object) -> dict:
    """The smallest valid event of a type, with `changes` applied (DROP removes a field)."""
    obj = {
        "event_id": "ev-1",
        "type": event_type,
        "occurred_at": "2026-02-14T15:00:00Z",
        **MINIMAL[event_type],
    }
    for name, value in changes.items():
        if value is DROP:
            obj.pop(name, None)
        else:
            obj[name] = value
    return obj


def reasons_for(obj: object, policy: EventPolicy = POLICY) -> list[str]:
    with pytest.raises(InvalidEvent) as refused:
        validate_event(obj, policy)
    return refused.value.reasons


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_the_smallest_valid_event_of_each_type_becomes_its_own_model(event_type):
    event = validate_event(payload(event_type), POLICY)
    assert type(event) is MODEL_OF[event_type]
    assert event.type == event_type
    assert event.event_id == "ev-1"
    assert event.occurred_at == datetime(2026, 2, 14, 15, 0, tzinfo=UTC)


def test_the_event_types_listed_are_exactly_those_the_models_accept():
    assert set(EVENT_TYPES) == set(MODEL_OF)


REQUIRED = (
    [(t, f) for t in EVENT_TYPES for f in ("event_id", "occurred_at")]
    + [("deal.created", f) for f in ("deal_id", "rep_id", "team_id", "customer_id", "amount")]
    + [(t, "deal_id") for t in DEAL_TYPES if t != "deal.created"]
    + [("call.logged", "rep_id"), ("call.logged", "team_id")]
    + [("cost.incurred", "amount"), ("cost.incurred", "category")]
)


@pytest.mark.parametrize(("event_type", "field"), REQUIRED)
def test_a_missing_required_field_is_refused_naming_the_field_and_the_type(event_type, field):
    assert reasons_for(payload(event_type, **{field: DROP})) == [
        f"{field}: required for {event_type}"
    ]


OPTIONAL = [
    *[(t, f, "x-9") for t in DEAL_TYPES for f in ("rep_id", "team_id", "customer_id", "channel")],
    *[(t, "amount", 10) for t in DEAL_TYPES if t != "deal.created"],
    ("deal.lost", "reason", "price"),
    ("call.logged", "deal_id", "d-9"),
    ("call.logged", "duration_s", 42.5),
    ("cost.incurred", "team_id", "t-9"),
    ("cost.incurred", "channel", "email"),
    *[(t, "segment", "smb") for t in [*DEAL_TYPES, "cost.incurred"]],
    *[(t, "probability", 0.6) for t in DEAL_TYPES],
    *[(t, "source", "hubspot") for t in EVENT_TYPES],
]


@pytest.mark.parametrize(("event_type", "field", "value"), OPTIONAL)
def test_an_optional_field_is_kept_when_present(event_type, field, value):
    assert getattr(validate_event(payload(event_type, **{field: value}), POLICY), field) == value


def test_a_missing_type_is_refused_listing_the_known_types():
    assert reasons_for(payload("deal.won", type=DROP)) == [
        "type: required (one of " + ", ".join(EVENT_TYPES) + ")"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("deal.teleported", "type: unknown event type 'deal.teleported' (expected one of "),
        ("DEAL.WON", "type: unknown event type 'DEAL.WON' (expected one of "),
        ("", "type: unknown event type '' (expected one of "),
        (5, "type: must be one of deal.created, "),
        (None, "type: must be one of deal.created, "),
        (["deal.won"], "type: must be one of deal.created, "),
    ],
)
def test_an_unknown_type_is_refused_listing_the_known_types(value, expected):
    [reason] = reasons_for(payload("deal.won", type=value))
    assert reason.startswith(expected)
    assert "cost.incurred" in reason


@pytest.mark.parametrize("obj", [[], [payload("deal.won")], "deal.won", 5, None, True])
def test_anything_but_a_json_object_is_refused(obj):
    assert reasons_for(obj) == ["event: must be a JSON object"]


ID_FIELDS = [
    ("deal.created", "event_id"),
    ("deal.created", "deal_id"),
    ("deal.created", "rep_id"),
    ("deal.created", "team_id"),
    ("deal.created", "customer_id"),
    ("deal.created", "channel"),
    ("deal.updated", "rep_id"),
    ("call.logged", "rep_id"),
    ("call.logged", "team_id"),
    ("call.logged", "deal_id"),
    ("cost.incurred", "team_id"),
    ("cost.incurred", "channel"),
]


@pytest.mark.parametrize("length", [1, 128])
@pytest.mark.parametrize(("event_type", "field"), ID_FIELDS)
def test_an_id_of_1_to_128_characters_is_accepted(event_type, field, length):
    value = "é" * length  # characters, not bytes
    assert getattr(validate_event(payload(event_type, **{field: value}), POLICY), field) == value


@pytest.mark.parametrize("value", ["", "x" * 129, 7, 1.5, True, None, ["r-1"], {"id": "r-1"}])
@pytest.mark.parametrize(("event_type", "field"), ID_FIELDS)
def test_an_id_that_is_not_a_string_of_1_to_128_characters_is_refused(event_type, field, value):
    assert reasons_for(payload(event_type, **{field: value})) == [f"{field}: {ID_RULE}"]


@pytest.mark.parametrize("value", [0, 0.0, 12, 12.5, 10**12, 1e12])
@pytest.mark.parametrize("event_type", ["deal.created", "deal.won", "cost.incurred"])
def test_an_amount_that_is_a_finite_number_from_0_to_1e12_is_accepted(event_type, value):
    amount = validate_event(payload(event_type, amount=value), POLICY).amount
    assert amount == value
    assert type(amount) is type(value)  # never coerced


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("12", "must be a number >= 0, not a string"),
        ("12 EUR", "must be a number >= 0, not a string"),
        (True, "must be a number >= 0, not a boolean"),
        (False, "must be a number >= 0, not a boolean"),
        (None, "must be a number >= 0, not null"),
        ([12], "must be a number >= 0, not an array"),
        ({"value": 12}, "must be a number >= 0, not an object"),
        (-5, "must be a number >= 0, not -5"),
        (-0.01, "must be a number >= 0, not -0.01"),
        (float("nan"), "must be a finite number >= 0"),
        (float("inf"), "must be a finite number >= 0"),
        (float("-inf"), "must be a finite number >= 0"),
        (10**12 + 1, "must be a number between 0 and 1,000,000,000,000, not 1000000000001"),
        (10**400, "must be a number between 0 and 1,000,000,000,000, not 1000000000"),
    ],
)
@pytest.mark.parametrize("event_type", ["deal.created", "deal.updated", "cost.incurred"])
def test_an_amount_that_is_not_a_finite_number_from_0_to_1e12_is_refused(event_type, value, rule):
    [reason] = reasons_for(payload(event_type, amount=value))
    assert reason.startswith(f"amount: {rule}")


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (0, True),
        (61.5, True),
        (10**7, True),
        (-1, False),
        ("60", False),
        (True, False),
        (float("nan"), False),
        (None, False),
    ],
)
def test_a_call_duration_must_be_a_finite_number_of_at_least_0(value, accepted):
    obj = payload("call.logged", duration_s=value)
    if accepted:
        assert validate_event(obj, POLICY).duration_s == value
    else:
        [reason] = reasons_for(obj)
        assert reason.startswith("duration_s: must be a ")


@pytest.mark.parametrize("value", ["marketing", "sales"])
def test_a_cost_category_of_marketing_or_sales_is_accepted(value):
    assert validate_event(payload("cost.incurred", category=value), POLICY).category == value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("party", "'party'"),
        ("Marketing", "'Marketing'"),
        ("", "''"),
        (None, "null"),
        (1, "a number"),
    ],
)
def test_any_other_cost_category_is_refused(value, shown):
    assert reasons_for(payload("cost.incurred", category=value)) == [
        f"category: must be 'marketing' or 'sales', not {shown}"
    ]


@pytest.mark.parametrize(
    ("policy", "currency"),
    [
        (POLICY, None),
        (POLICY, "EUR"),
        (EventPolicy(rated_currencies=frozenset({"USD", "GBP"}), clock=lambda: NOW), "USD"),
        (EventPolicy(reporting_currency="USD", clock=lambda: NOW), "USD"),
    ],
)
def test_a_currency_equal_to_the_reporting_one_or_with_a_rate_is_accepted(policy, currency):
    assert validate_event(payload("deal.won", currency=currency), policy).currency == currency


@pytest.mark.parametrize(
    ("policy", "currency", "reason"),
    [
        (
            POLICY,
            "USD",
            "currency: must be the reporting currency EUR (no other currency has a "
            "rate), not 'USD'",
        ),
        (
            POLICY,
            "eur",
            "currency: must be the reporting currency EUR (no other currency has a "
            "rate), not 'eur'",
        ),
        (
            EventPolicy(rated_currencies=frozenset({"USD", "GBP"}), clock=lambda: NOW),
            "JPY",
            "currency: must be the reporting currency EUR or one with a rate (GBP, USD), not 'JPY'",
        ),
        (
            EventPolicy(reporting_currency="USD", clock=lambda: NOW),
            "EUR",
            "currency: must be the reporting currency USD (no other currency has a "
            "rate), not 'EUR'",
        ),
        (POLICY, 978, "currency: must be a string, not a number"),
    ],
)
def test_any_other_currency_is_refused(policy, currency, reason):
    assert reasons_for(payload("cost.incurred", currency=currency), policy) == [reason]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_unknown_extra_fields_are_ignored_by_the_model(event_type):
    obj = payload(event_type, crm_payload={"nested": [1, 2]}, priority="high", amount_eur="12")
    event = validate_event(obj, POLICY)
    assert not hasattr(event, "crm_payload")
    assert "priority" not in event.model_dump()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"type": "deal.won"}, {}),
        ({"type": "deal.won", "amount": 5000}, {"amount": 5000}),
        (
            {"type": "deal.updated", "rep_id": "r-2", "team_id": "t-2"},
            {"rep_id": "r-2", "team_id": "t-2"},
        ),
        ({"type": "deal.lost", "reason": "price", "channel": "email"}, {"channel": "email"}),
        ({"type": "deal.reopened", "customer_id": "c-2", "source": "api"}, {"customer_id": "c-2"}),
        (
            {"type": "deal.created"},
            {"rep_id": "r-1", "team_id": "t-1", "customer_id": "c-1", "amount": 1200.5},
        ),
        (
            {"type": "deal.created", "channel": "referral", "note": "x"},
            {
                "rep_id": "r-1",
                "team_id": "t-1",
                "customer_id": "c-1",
                "amount": 1200.5,
                "channel": "referral",
            },
        ),
    ],
)
def test_attributes_lists_only_the_deal_attributes_present_in_the_input(changes, expected):
    event_type = changes.pop("type")
    assert validate_event(payload(event_type, **changes), POLICY).attributes() == expected


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("deal.updated", "rep_id"),
        ("deal.won", "amount"),
        ("deal.updated", "channel"),
        ("call.logged", "deal_id"),
        ("cost.incurred", "team_id"),
        ("deal.updated", "segment"),
        ("deal.won", "probability"),
        ("cost.incurred", "segment"),
    ],
)
def test_an_explicit_null_attribute_is_refused_rather_than_unassigning_the_deal(event_type, field):
    [reason] = reasons_for(payload(event_type, **{field: None}))
    assert reason.startswith(f"{field}: must be ")


@pytest.mark.parametrize(
    ("field", "event_type"),
    [("source", "deal.won"), ("currency", "deal.won"), ("reason", "deal.lost")],
)
def test_free_text_fields_accept_null_as_absent_but_refuse_other_types(field, event_type):
    assert getattr(validate_event(payload(event_type, **{field: None}), POLICY), field) is None
    assert reasons_for(payload(event_type, **{field: 3})) == [
        f"{field}: must be a string, not a number"
    ]


def test_validated_events_are_immutable():
    event = validate_event(payload("deal.won"), POLICY)
    with pytest.raises(ValueError):
        event.deal_id = "d-2"


def test_a_policy_accepts_any_iterable_of_rated_currencies_and_stays_hashable():
    policy = EventPolicy(rated_currencies={"USD"})
    assert policy.rated_currencies == frozenset({"USD"})
    assert hash(policy) == hash(EventPolicy(rated_currencies=["USD"]))
