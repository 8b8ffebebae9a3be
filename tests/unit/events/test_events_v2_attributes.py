"""Contract v2's event attributes at the edge: a deal's `segment` and `probability`, a cost's
`segment`. Accepted as the contract words them, refused in one plain sentence, kept on the model
for the folds, documented in the JSON schema; v1 events are untouched."""

from datetime import UTC, datetime

import orjson
import pytest

from events.codec import decode_event
from events.http_edge import Refusal, validate_all
from events.models import (
    DEAL_ATTRIBUTES,
    EVENT_TYPES,
    EventPolicy,
    InvalidEvent,
    event_json_schema,
    validate_event,
)
from events.topics import TopicNames
from projections.normalize import deal_event_of
from tests.support.native import REQUIRED_FIELDS

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
DEAL_TYPES = [t for t in EVENT_TYPES if t.startswith("deal.")]
SEGMENT_TYPES = [*DEAL_TYPES, "cost.incurred"]
SEGMENT_RULE = "segment: must be a string of 1 to 64 characters"
PROBABILITY_RULE = "probability: must be a number between 0 and 1, not "

REQUIRED = REQUIRED_FIELDS


@pytest.fixture
def make_event():
    """Factory: the smallest valid event of a type, with `fields` added."""

    def make(event_type: str, **fields: object) -> dict:
        obj = {"event_id": "ev-1", "type": event_type, "occurred_at": "2026-02-14T15:00:00Z"}
        return obj | REQUIRED[event_type] | fields

    return make


def reasons_for(obj: dict) -> list[str]:
    with pytest.raises(InvalidEvent) as refused:
        validate_event(obj, POLICY)
    return refused.value.reasons


@pytest.mark.parametrize("value", ["smb", "mid-market", "é", "x" * 64, "Enterprise 🏢"])
@pytest.mark.parametrize("event_type", SEGMENT_TYPES)
def test_a_segment_of_1_to_64_characters_is_kept_on_deal_and_cost_events(
    make_event, event_type, value
):
    assert validate_event(make_event(event_type, segment=value), POLICY).segment == value


@pytest.mark.parametrize("value", ["", "x" * 65, "😀" * 65, 7, 0.5, True, None, ["smb"], {}])
@pytest.mark.parametrize("event_type", SEGMENT_TYPES)
def test_a_segment_that_is_not_a_string_of_1_to_64_characters_is_refused(
    make_event, event_type, value
):
    assert reasons_for(make_event(event_type, segment=value)) == [SEGMENT_RULE]


@pytest.mark.parametrize("value", [0, 1, 0.0, 1.0, 0.5, 0.35, 5e-324, -0.0])
@pytest.mark.parametrize("event_type", DEAL_TYPES)
def test_a_probability_that_is_a_number_from_0_to_1_is_kept_as_sent(make_event, event_type, value):
    probability = validate_event(make_event(event_type, probability=value), POLICY).probability
    assert probability == value
    assert type(probability) is type(value)  # never coerced


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1.5, PROBABILITY_RULE + "1.5"),
        (50, PROBABILITY_RULE + "50"),
        (-0.01, PROBABILITY_RULE + "-0.01"),
        (1.0000001, PROBABILITY_RULE + "1.0000001"),
        ("50%", PROBABILITY_RULE + "a string"),
        ("0.5", PROBABILITY_RULE + "a string"),
        (True, PROBABILITY_RULE + "a boolean"),
        (False, PROBABILITY_RULE + "a boolean"),
        (None, PROBABILITY_RULE + "null"),
        ([0.5], PROBABILITY_RULE + "an array"),
        ({"value": 0.5}, PROBABILITY_RULE + "an object"),
        (float("nan"), "probability: must be a finite number between 0 and 1, not nan"),
        (float("inf"), "probability: must be a finite number between 0 and 1, not inf"),
        (float("-inf"), "probability: must be a finite number between 0 and 1, not -inf"),
        (10**400, PROBABILITY_RULE + "1" + "0" * 38 + "…"),
    ],
    ids=lambda v: repr(v)[:20],
)
@pytest.mark.parametrize("event_type", DEAL_TYPES)
def test_a_probability_that_is_not_a_finite_number_from_0_to_1_is_refused_in_one_sentence(
    make_event, event_type, value, reason
):
    assert reasons_for(make_event(event_type, probability=value)) == [reason]


def test_a_call_carries_no_segment_so_one_sent_is_ignored_like_any_unknown_field(make_event):
    event = validate_event(make_event("call.logged", segment=""), POLICY)
    assert not hasattr(event, "segment")


def test_a_probability_on_a_cost_is_not_a_cost_attribute_and_is_ignored(make_event):
    event = validate_event(make_event("cost.incurred", probability="50%"), POLICY)
    assert not hasattr(event, "probability")


@pytest.mark.parametrize(
    ("event_type", "fields", "expected"),
    [
        ("deal.updated", {"segment": "smb"}, {"segment": "smb"}),
        ("deal.won", {"probability": 1}, {"probability": 1}),
        (
            "deal.lost",
            {"probability": 0, "segment": "enterprise", "reason": "price"},
            {"segment": "enterprise", "probability": 0},
        ),
        (
            "deal.created",
            {"segment": "mid-market", "probability": 0.25},
            {
                "rep_id": "r-1",
                "team_id": "t-1",
                "customer_id": "c-1",
                "amount": 1200.5,
                "segment": "mid-market",
                "probability": 0.25,
            },
        ),
        ("deal.reopened", {}, {}),
    ],
)
def test_attributes_list_segment_and_probability_only_when_the_event_carries_them(
    make_event, event_type, fields, expected
):
    assert validate_event(make_event(event_type, **fields), POLICY).attributes() == expected


def test_the_deal_attributes_are_the_v1_ones_followed_by_segment_and_probability():
    v1_attributes = DEAL_ATTRIBUTES[:5]
    assert v1_attributes == ("rep_id", "team_id", "customer_id", "amount", "channel")
    assert DEAL_ATTRIBUTES[5:] == ("segment", "probability")


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_v1_event_without_the_v2_attributes_stays_valid_and_carries_none(make_event, event_type):
    event = validate_event(make_event(event_type), POLICY)
    assert getattr(event, "segment", None) is None
    assert getattr(event, "probability", None) is None
    if event_type in DEAL_TYPES:
        assert not {"segment", "probability"} & set(event.attributes())


def test_a_v2_deal_event_read_from_a_topic_reaches_the_deal_fold_with_its_new_attributes(
    make_event,
):
    obj = make_event("deal.updated", segment="smb", probability=0.4, crm="x")
    event, original = decode_event(orjson.dumps(obj), POLICY)

    assert original == obj
    # the fold keeps a probability in integer parts per million (exact weighted sums)
    assert deal_event_of(event, seq=7).attrs == {"segment": "smb", "probability": 400_000}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'"probability": 1.5', "probability: must be a number between 0 and 1, not 1.5"),
        (b'"probability": "50%"', "probability: must be a number between 0 and 1, not a string"),
        (b'"segment": null', SEGMENT_RULE),
    ],
)
def test_bytes_on_a_topic_with_a_bad_v2_attribute_are_refused_with_the_reason(raw, reason):
    value = b'{"event_id":"e","type":"deal.won","occurred_at":"2026-02-14T15:00:00Z",'
    value += b'"deal_id":"d-1",' + raw + b"}"
    with pytest.raises(InvalidEvent) as refused:
        decode_event(value, POLICY)
    assert refused.value.reasons == [reason]


def test_the_http_edge_answers_422_for_a_probability_of_1_5_or_50_percent_and_publishes_nothing(
    make_event,
):
    batch = [
        make_event("deal.won", probability=0.9),
        make_event("deal.updated", event_id="ev-2", probability=1.5),
        make_event("deal.updated", event_id="ev-3", probability="50%"),
    ]
    with pytest.raises(Refusal) as refused:
        validate_all(batch, POLICY, TopicNames("v2."))

    assert refused.value.status == 422
    assert refused.value.extra["invalid"] == [
        {"index": 1, "event_id": "ev-2", "reasons": [PROBABILITY_RULE + "1.5"]},
        {"index": 2, "event_id": "ev-3", "reasons": [PROBABILITY_RULE + "a string"]},
    ]


def test_the_http_edge_publishes_a_v2_event_as_the_client_sent_it(make_event):
    obj = make_event("cost.incurred", segment="enterprise")
    [outgoing] = validate_all([obj], POLICY, TopicNames("v2."))
    assert orjson.loads(outgoing.value) == obj


def properties_of(model: str) -> dict:
    return event_json_schema()["$defs"][model]["properties"]


@pytest.mark.parametrize(
    "model", ["DealCreated", "DealUpdated", "DealWon", "DealLost", "DealReopened"]
)
def test_the_json_schema_documents_a_deal_probability_from_0_to_1_and_a_segment(model):
    properties = properties_of(model)
    assert properties["probability"] | {"description": ""} == {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "default": None,
        "title": "Probability",
        "description": "",
    }
    assert "not a percentage" in properties["probability"]["description"]
    assert properties["segment"]["type"] == "string"
    assert (properties["segment"]["minLength"], properties["segment"]["maxLength"]) == (1, 64)


def test_the_json_schema_documents_a_cost_segment_but_no_call_segment():
    assert properties_of("CostIncurred")["segment"]["maxLength"] == 64
    assert "probability" not in properties_of("CostIncurred")
    assert "segment" not in properties_of("CallLogged")
