"""Bytes on a Kafka topic or in an HTTP body <-> validated events.

The log keeps what the client sent: `decode_event` returns the original object next to the model,
and `encode_event` publishes that original (unknown fields included), never a re-serialised model.
"""

import orjson

from events.models import Event, EventPolicy, InvalidEvent, validate_event

_DETAIL_MAX = 80


def decode_event(raw: bytes, policy: EventPolicy) -> tuple[Event, dict]:
    """The validated event and the original JSON object, or InvalidEvent saying what is wrong.

    `raw` may be any bytes-like value; a missing value (a Kafka tombstone) is refused too.
    """
    original = decode_json(raw)
    return validate_event(original, policy), original


def decode_json(raw: bytes) -> object:
    """The JSON value of `raw`, refusing non-UTF-8 and non-JSON bytes with a reason."""
    if raw is None:
        raise InvalidEvent(["value: missing (a null record value carries no event)"])
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent(["value: not valid UTF-8"]) from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InvalidEvent([f"value: not valid JSON ({_short(error)})"]) from None


def encode_event(original: dict) -> bytes:
    """Compact UTF-8 JSON of the object exactly as received: the value published to Kafka."""
    return orjson.dumps(original)


def _short(error: orjson.JSONDecodeError) -> str:
    detail = f"{error.msg} at character {error.pos}"
    return detail if len(detail) <= _DETAIL_MAX else detail[: _DETAIL_MAX - 1] + "…"
