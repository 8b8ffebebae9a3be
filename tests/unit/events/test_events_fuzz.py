"""Hostile payloads against the one gate every event passes, and against the edge's steps after it.

``validate_event`` must only ever return an event or raise ``InvalidEvent``; its reasons must be
short, single-line sentences that never echo a payload whole (they go into HTTP errors, Kafka
headers and logs). Inputs: arbitrary JSON values at any field, deep nesting (built in Python,
deeper than any JSON parser allows), huge integers and floats, NaN and infinities, unicode with
surrogates and NUL in ids, and raw bytes with the literals JSON forbids (NaN, Infinity, 1e309).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from events.codec import decode_event, decode_json
from events.http_edge import Refusal, validate_all
from events.models import EVENT_TYPES, EventPolicy, InvalidEvent, validate_event
from events.topics import TopicNames

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
NAMES = TopicNames("fuzz.")
MAX_REASON = 240
FIELDS = (
    "event_id",
    "type",
    "occurred_at",
    "source",
    "currency",
    "deal_id",
    "rep_id",
    "team_id",
    "customer_id",
    "amount",
    "channel",
    "segment",
    "probability",
    "reason",
    "duration_s",
    "category",
)
VALID = {
    "deal.created": {
        "deal_id": "d-1",
        "rep_id": "r-1",
        "team_id": "t-1",
        "customer_id": "c-1",
        "amount": 1200.5,
        "channel": "linkedin",
        "segment": "smb",
        "probability": 0.3,
    },
    "deal.updated": {"deal_id": "d-1", "amount": 10},
    "deal.won": {"deal_id": "d-1"},
    "deal.lost": {"deal_id": "d-1", "reason": "price"},
    "deal.reopened": {"deal_id": "d-1"},
    "call.logged": {"rep_id": "r-1", "team_id": "t-1", "duration_s": 30},
    "cost.incurred": {"amount": 99.5, "category": "marketing", "team_id": "t-1", "segment": "smb"},
}

ANY_CHAR = st.characters(exclude_categories=())  # surrogates, NUL and other controls included
HUGE_NUMBERS = st.sampled_from(
    [
        10**400,
        -(10**400),
        2**64,
        2**63,
        -(2**63) - 1,
        1e308,
        1.7976931348623157e308,
        5e-324,
        -0.0,
        math.inf,
        -math.inf,
        math.nan,
        10**12,
        10**12 + 1,
        1e12 + 0.5,
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_NUMBERS
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(ANY_CHAR, max_size=20)
    | st.text(ANY_CHAR, min_size=120, max_size=300)
    | st.sampled_from(["", "\x00", "\ud800", "\udfff", "a\x00b", "\u202e", "é" * 128, "😀" * 129])
    | st.sampled_from(["2026-02-14T10:00:00Z", "2026-02-14T10:00:00", *EVENT_TYPES])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(ANY_CHAR, max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


class _Short:
    """Mixin: a deep value prints as how it was built (a failing example stays readable)."""

    label = ""

    def __repr__(self) -> str:
        return self.label

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis' pretty printer
        printer.text(self.label)


class DeepList(_Short, list):
    pass


class DeepDict(_Short, dict):
    pass


def nested(depth: int, leaf: object = 1, kind: str = "list") -> object:
    """A value nested ``depth`` levels deep, built without recursion."""
    value = leaf
    for _ in range(depth - 1):
        value = [value] if kind == "list" else {"k": value}
    outer = DeepList([value]) if kind == "list" else DeepDict(k=value)
    outer.label = f"nested({depth}, {leaf!r}, {kind!r})"
    return outer


DEEP = st.builds(
    nested,
    st.sampled_from([255, 1000, 1025, 5000]),
    st.sampled_from([1, "x", None]),
    st.sampled_from(["list", "dict"]),
)


def assert_clean_refusal(exc: InvalidEvent) -> None:
    assert exc.reasons, "a refusal names at least one reason"
    for reason in exc.reasons:
        assert isinstance(reason, str)
        assert 0 < len(reason) <= MAX_REASON, reason
        assert "\n" not in reason and "\r" not in reason
        assert ": " in reason, f"reason {reason!r} names no field"
        reason.encode("utf-8")  # can go into a Kafka header and a JSON error as is
        for leak in ("pydantic", "Input should", "input_value", "Traceback"):
            assert leak not in reason, reason


def check(obj: object) -> None:
    """validate_event returns an event or raises a clean InvalidEvent: nothing else."""
    try:
        event = validate_event(obj, POLICY)
    except InvalidEvent as exc:
        assert_clean_refusal(exc)
    else:
        assert isinstance(obj, dict) and event.type == obj["type"]


@st.composite
def mutated_events(draw: st.DrawFn, values: st.SearchStrategy = JSON_VALUES) -> dict:
    event_type = draw(st.sampled_from(EVENT_TYPES))
    obj = {
        "event_id": "ev-1",
        "type": event_type,
        "occurred_at": "2026-02-14T15:00:00Z",
        **VALID[event_type],
    }
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)):
        if draw(st.booleans()) and field in obj:
            del obj[field]
        else:
            obj[field] = draw(values)
    if draw(st.booleans()):
        obj[draw(st.text(ANY_CHAR, max_size=10))] = draw(values | DEEP)
    return obj


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_any_value_in_any_field_gives_an_event_or_a_clean_refusal(obj):
    check(obj)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES | DEEP)
def test_any_json_value_as_the_whole_event_gives_an_event_or_a_clean_refusal(obj):
    check(obj)


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events(values=DEEP | HUGE_NUMBERS))
def test_deep_nesting_and_huge_numbers_in_fields_are_refused_cleanly(obj):
    check(obj)


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_every_field_nested_fifty_thousand_levels_deep_is_refused_without_recursion(kind):
    deepest = nested(50_000, kind=kind)
    for event_type in EVENT_TYPES:
        for field in FIELDS:
            obj = {"event_id": "e", "type": event_type, "occurred_at": "2026-02-14T15:00:00Z"}
            check({**obj, **VALID[event_type], field: deepest})


@settings(max_examples=150)
@given(
    st.sampled_from(["event_id", "deal_id", "rep_id", "team_id"]), st.text(ANY_CHAR, max_size=130)
)
@example("event_id", "a\x00b")
@example("rep_id", "\ud800")
@example("deal_id", "é" * 128)
@example("deal_id", "😀" * 129)
@example("team_id", "")
def test_unicode_ids_are_judged_by_their_length_in_characters_alone(field, value):
    event_type = "call.logged" if field in ("rep_id", "team_id") else "deal.updated"
    obj = {"event_id": "e", "type": event_type, "occurred_at": "2026-02-14T15:00:00Z"}
    obj |= {**VALID[event_type], field: value}

    if 1 <= len(value) <= 128:
        assert getattr(validate_event(obj, POLICY), field) == value
    else:
        with pytest.raises(InvalidEvent) as refused:
            validate_event(obj, POLICY)
        assert refused.value.reasons == [f"{field}: must be a string of 1 to 128 characters"]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (10**400, "amount: must be a number between 0 and 1,000,000,000,000, not 1000000000"),
        (1e308, "amount: must be a number between 0 and 1,000,000,000,000, not 1e+308"),
        (math.inf, "amount: must be a finite number >= 0"),
        (math.nan, "amount: must be a finite number >= 0"),
        (-(10**400), "amount: must be a number >= 0, not -100000000000"),
        (True, "amount: must be a number >= 0, not a boolean"),
        ("1e309", "amount: must be a number >= 0, not a string"),
    ],
    ids=["10**400", "1e308", "inf", "nan", "-10**400", "true", "string"],
)
def test_huge_infinite_and_not_a_number_amounts_are_refused_with_a_short_reason(amount, reason):
    obj = {"event_id": "e", "type": "cost.incurred", "occurred_at": "2026-02-14T15:00:00Z"}
    obj |= {"category": "sales", "amount": amount}

    with pytest.raises(InvalidEvent) as refused:
        validate_event(obj, POLICY)

    [got] = refused.value.reasons
    assert got.startswith(reason)
    assert len(got) <= 120


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=64)
    | st.sampled_from(
        [
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b'{"amount": NaN}',
            b"1e309",
            b'{"amount": 1e309}',
            b'{"amount": -1e309}',
            b"1" + b"0" * 400,
            b'{"amount": 1' + b"0" * 400 + b"}",
            b"[" * 1025 + b"]" * 1025,
            b'{"a":' * 2000 + b"1" + b"}" * 2000,
            b'"\\ud800"',
            b'{"event_id": "\\u0000"}',
            b"\xef\xbb\xbf{}",
            b"\xff\xfe",
            b"",
        ]
    )
)
def test_raw_bytes_decode_to_an_event_or_a_clean_refusal(raw):
    try:
        event, original = decode_event(raw, POLICY)
    except InvalidEvent as exc:
        assert_clean_refusal(exc)
    else:
        assert original["type"] == event.type


@pytest.mark.parametrize(
    "literal", [b"NaN", b"Infinity", b"-Infinity", b"1e309", b"-1e309", b"1" + b"0" * 400]
)
def test_literals_json_forbids_or_cannot_hold_are_not_json(literal):
    with pytest.raises(InvalidEvent) as refused:
        decode_json(b'{"amount": ' + literal + b"}")

    assert refused.value.reasons[0].startswith("value: not valid JSON (")


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_events(values=JSON_VALUES | DEEP), min_size=1, max_size=5))
def test_the_edge_turns_any_batch_into_records_or_a_422_it_can_render(items):
    try:
        outgoing = validate_all(items, POLICY, NAMES)
    except Refusal as refusal:
        assert refusal.status == 422
        body = json.loads(refusal.response().body)
        invalid = body["error"]["invalid"]
        assert [entry["index"] for entry in invalid] == sorted({e["index"] for e in invalid})
        for entry in invalid:
            assert entry["event_id"] is None or len(entry["event_id"]) <= 128
            for reason in entry["reasons"]:
                assert len(reason) <= MAX_REASON
        assert len(refusal.response().body) <= 2048 * len(items)
    else:
        assert len(outgoing) == len(items)
        assert [orjson.loads(o.value) for o in outgoing] == [
            orjson.loads(orjson.dumps(i)) for i in items
        ]


def test_a_valid_event_with_an_extra_field_nested_deeper_than_orjson_writes_is_a_422_not_a_crash():
    event = {"event_id": "e", "type": "deal.won", "occurred_at": "2026-02-14T15:00:00Z"}
    event |= {"deal_id": "d-1", "note": nested(300)}

    with pytest.raises(Refusal) as refused:
        validate_all([event], POLICY, NAMES)

    assert refused.value.status == 422
    [entry] = refused.value.extra["invalid"]
    assert entry["event_id"] == "e"
    assert entry["reasons"] == ["event: cannot be stored as JSON (Recursion limit reached)"]


@pytest.mark.parametrize(
    "event_id",
    [nested(990), nested(990, kind="dict"), 1e300, "x" * 10_000, "\ud800", ["e"], {"id": "e"}],
    ids=["deep-array", "deep-object", "huge-float", "huge-string", "surrogate", "array", "object"],
)
def test_an_invalid_event_id_is_listed_as_null_and_never_echoed(event_id):
    with pytest.raises(Refusal) as refused:
        validate_all([{"event_id": event_id, "type": "deal.won"}], POLICY, NAMES)

    body = json.loads(refused.value.response().body)
    [entry] = body["error"]["invalid"]
    assert entry["event_id"] is None
    assert len(refused.value.response().body) < 1024


def test_a_python_caller_with_a_lone_surrogate_in_an_id_gets_a_422_not_a_crash():
    event = {"event_id": "e\ud800", "type": "deal.won", "occurred_at": "2026-02-14T15:00:00Z"}
    event |= {"deal_id": "d-1"}

    with pytest.raises(Refusal) as refused:
        validate_all([event], POLICY, NAMES)

    [entry] = json.loads(refused.value.response().body)["error"]["invalid"]
    assert entry["event_id"] is None
    assert entry["reasons"][0].startswith("event: cannot be stored as JSON (")
