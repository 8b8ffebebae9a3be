"""Bytes to events and back: what is refused before validation, and what gets published."""

import json
from datetime import UTC, datetime

import orjson
import pytest

from events.codec import decode_event, encode_event
from events.models import CostIncurred, DealWon, EventPolicy, InvalidEvent
from tests.support.golden import GOLDEN_DIR

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
GOLDEN = GOLDEN_DIR / "events.jsonl"
WON = b'{"event_id":"ev-1","type":"deal.won","occurred_at":"2026-02-14T15:00:00Z","deal_id":"d-1"}'


def reasons_for(raw: object) -> list[str]:
    with pytest.raises(InvalidEvent) as refused:
        decode_event(raw, POLICY)
    return refused.value.reasons


def test_decoding_returns_the_validated_event_and_the_original_object():
    event, original = decode_event(WON, POLICY)
    assert isinstance(event, DealWon)
    assert event.deal_id == "d-1"
    assert original == json.loads(WON)


def test_the_original_keeps_fields_the_model_ignores():
    raw = (
        b'{"event_id":"c-1","type":"cost.incurred","occurred_at":"2026-02-14T15:00:00Z",'
        b'"amount":5,"category":"sales","invoice":{"no":"F-12","lines":[1,2]}}'
    )
    event, original = decode_event(raw, POLICY)
    assert isinstance(event, CostIncurred)
    assert original["invoice"] == {"no": "F-12", "lines": [1, 2]}
    assert encode_event(original) == raw


@pytest.mark.parametrize("raw", [bytearray(WON), memoryview(WON)])
def test_any_bytes_like_value_is_decoded(raw):
    event, _ = decode_event(raw, POLICY)
    assert event.event_id == "ev-1"


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{}", b'{"event_id":"\xc3\x28"}', b'{"a":"\xed\xa0\x80"}', WON[:-3] + b"\xe2\x82"],
)
def test_bytes_that_are_not_utf_8_are_refused(raw):
    assert reasons_for(raw) == ["value: not valid UTF-8"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[1,",
        b"nan",
        b'{"amount":NaN}',
        b"{'a':1}",
        b"\xef\xbb\xbf{}",
        WON + b"}",
        b'{"a":1,}',
    ],
)
def test_bytes_that_are_not_json_are_refused_with_a_short_detail(raw):
    [reason] = reasons_for(raw)
    assert reason.startswith("value: not valid JSON (")
    assert reason.endswith(")")
    assert len(reason) < 120


@pytest.mark.parametrize("raw", [b"[]", b"[" + WON + b"]", b'"deal.won"', b"12", b"null", b"true"])
def test_json_that_is_not_an_object_is_refused(raw):
    assert reasons_for(raw) == ["event: must be a JSON object"]


def test_a_missing_value_is_refused():
    [reason] = reasons_for(None)
    assert reason.startswith("value: missing")


def test_an_invalid_event_is_refused_with_the_validation_reasons():
    raw = WON.replace(b'"deal_id":"d-1"', b'"deal_id":"d-1","amount":"12 EUR"')
    assert reasons_for(raw) == ["amount: must be a number >= 0, not a string"]


@pytest.mark.parametrize(
    ("original", "published"),
    [
        ({"b": 1, "a": [1.5, None, True]}, b'{"b":1,"a":[1.5,null,true]}'),
        ({"name": "Zoë ✓"}, '{"name":"Zoë ✓"}'.encode()),
        ({"amount": 0.1}, b'{"amount":0.1}'),
    ],
)
def test_encoding_publishes_the_original_as_compact_utf_8_json_in_its_key_order(
    original, published
):
    assert encode_event(original) == published


def test_every_golden_line_decodes_and_reencodes_to_the_same_object():
    for line in GOLDEN.read_bytes().splitlines():
        original = orjson.loads(line)
        assert orjson.loads(encode_event(original)) == original
