"""Field types of the native event models (contract section 1), one checker per kind of field.

Why hand-written checkers rather than pydantic's constrained types: the contract is strict about
JSON types ("12" is not 12, true is not 1) and every refusal must read as one plain sentence.
Pydantic's strict unions report one error per union member in its own words; a checker refuses
once, with the sentence a client will see. The sentence is carried by a PydanticCustomError of type
REASON_ERROR, so that `events._reasons` only has to prefix it with the field name.

Optional fields are `X | None = None` on the models, but an explicit JSON `null` is refused for
deal attributes and ids: an attribute that is present overwrites the deal's current one, so a stray
null would silently un-assign a deal (or, for contract v2's `segment` and `probability`, silently
take the deal out of its customer type or out of the weighted pipeline). Free-text fields (source,
reason, currency) accept null.
"""

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, PlainValidator
from pydantic_core import PydanticCustomError

REASON_ERROR = "salespulse_reason"
"""Error type of every refusal raised here; its message is already a finished sentence."""

MAX_ID_LENGTH = 128
MAX_SEGMENT_LENGTH = 64
MAX_AMOUNT = 10**12
COST_CATEGORIES = ("marketing", "sales")
TIMESTAMP_EXAMPLE = "2026-02-14T15:20:00Z"

ID_RULE = f"must be a string of 1 to {MAX_ID_LENGTH} characters"
SEGMENT_RULE = f"must be a string of 1 to {MAX_SEGMENT_LENGTH} characters"
PROBABILITY_RULE = "must be a number between 0 and 1"
TIMESTAMP_RULE = f"must be an RFC 3339 timestamp with an offset (e.g. {TIMESTAMP_EXAMPLE})"

EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
"""No event time or ``as_of`` before the Unix epoch. A sales log has nothing older, and the bound
keeps every date computation (windows and calendar days in any time zone, a quarter's start, day
numbers) inside what ``datetime`` can represent."""
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)
"""No ``as_of`` (and so no window end, up to a quarter later) at or after this instant; event times
are bounded much tighter, by the policy's ``max_future`` from now."""

_SHOWN_MAX = 40

# Full RFC 3339 date-time; `T`/`Z` may be lower case (RFC 3339 §5.6). ASCII only: `\d` would
# otherwise accept other scripts' digits.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<oh>\d{2}):(?P<om>\d{2}))",
    re.ASCII,
)


def refusal(message: str) -> PydanticCustomError:
    """A validation error whose message is shown to the client as is (after the field name)."""
    return PydanticCustomError(REASON_ERROR, message)


def json_kind(value: object) -> str:
    """The JSON name of a value's type, for "not a string"-style sentences."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def shown(value: object) -> str:
    """A client's value quoted in a reason, cut short so a hostile payload cannot bloat errors."""
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def check_id(value: Any) -> str:
    if isinstance(value, str) and 1 <= len(value) <= MAX_ID_LENGTH:
        return value
    raise refusal(ID_RULE)


def check_segment(value: Any) -> str:
    """A customer type (contract v2): a label a scope is keyed by, so never empty, never long."""
    if isinstance(value, str) and 1 <= len(value) <= MAX_SEGMENT_LENGTH:
        return value
    raise refusal(SEGMENT_RULE)


def check_probability(value: Any) -> int | float:
    """A probability of closing as a JSON number 0 <= p <= 1 (contract v2).

    A CRM's percentage is divided by 100 by its adapter, so "50%" or 50 here is a client's
    mistake, refused rather than guessed at; a bool is refused although Python counts it as an int.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refusal(f"{PROBABILITY_RULE}, not {json_kind(value)}")
    # Only floats can be NaN/inf; math.isfinite would overflow on a huge int.
    if isinstance(value, float) and not math.isfinite(value):
        raise refusal(f"must be a finite number between 0 and 1, not {shown(value)}")
    if not 0 <= value <= 1:
        raise refusal(f"{PROBABILITY_RULE}, not {shown(value)}")
    return value


def check_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise refusal(f"must be a string, not {json_kind(value)}")


def check_amount(value: Any) -> int | float:
    number = _non_negative_number(value)
    if number > MAX_AMOUNT:
        raise refusal(f"must be a number between 0 and {MAX_AMOUNT:,}, not {shown(number)}")
    return number


def check_duration(value: Any) -> int | float:
    return _non_negative_number(value)


def _non_negative_number(value: Any) -> int | float:
    """A JSON number >= 0, never a string or a bool (bool is an int subclass in Python)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refusal(f"must be a number >= 0, not {json_kind(value)}")
    # Only floats can be NaN/inf; math.isfinite would overflow on a huge int.
    if isinstance(value, float) and not math.isfinite(value):
        raise refusal("must be a finite number >= 0")
    if value < 0:
        raise refusal(f"must be a number >= 0, not {shown(value)}")
    return value


def check_category(value: Any) -> str:
    if isinstance(value, str) and value in COST_CATEGORIES:
        return value
    expected = " or ".join(repr(c) for c in COST_CATEGORIES)
    got = shown(value) if isinstance(value, str) else json_kind(value)
    raise refusal(f"must be {expected}, not {got}")


def check_timestamp(value: Any) -> datetime:
    """An aware instant, normalised to UTC (windows are computed in UTC).

    JSON input must be an RFC 3339 string with an explicit offset. An aware `datetime` is also
    accepted so that Python code (tests, replays) can build events directly; JSON never yields one.
    """
    parsed = None
    if isinstance(value, str):
        parsed = parse_rfc3339(value)
    elif isinstance(value, datetime) and value.utcoffset() is not None:
        parsed = _to_utc(value)
    if parsed is None:
        raise refusal(TIMESTAMP_RULE)
    return parsed


def parse_rfc3339(text: str) -> datetime | None:
    """The UTC instant of an RFC 3339 date-time, or None when `text` is not one.

    Seconds fractions beyond microseconds are truncated. Leap seconds (:60) are refused, since
    datetime cannot hold them.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    if match["utc"]:
        zone = UTC  # nearly every event: nothing to convert, no conversion that could overflow
    else:
        offset = _offset(match)
        if offset is None:
            return None
        zone = timezone(offset)
    *fields, fraction = match.group(1, 2, 3, 4, 5, 6, 7)
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        moment = datetime(*map(int, fields), micro, tzinfo=zone)
    except ValueError:  # e.g. February 30th, hour 25, year 0
        return None
    return moment if zone is UTC else _to_utc(moment)


def _offset(match: re.Match[str]) -> timedelta | None:
    hours, minutes = int(match["oh"]), int(match["om"])
    if hours > 23 or minutes > 59:
        return None
    sign = -1 if match["sign"] == "-" else 1
    return sign * timedelta(hours=hours, minutes=minutes)


def _to_utc(moment: datetime) -> datetime | None:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        return None


# json_schema_input_type only documents the accepted JSON (OpenAPI); the checkers decide.
_ID_JSON = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
_AMOUNT_JSON = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]
_DURATION_JSON = Annotated[float, Field(ge=0)]
_SEGMENT_JSON = Annotated[str, Field(min_length=1, max_length=MAX_SEGMENT_LENGTH)]
_PROBABILITY_JSON = Annotated[float, Field(ge=0, le=1)]

Id = Annotated[str, PlainValidator(check_id, json_schema_input_type=_ID_JSON)]
MaybeId = Annotated[str | None, PlainValidator(check_id, json_schema_input_type=_ID_JSON)]
Text = Annotated[str | None, PlainValidator(check_text, json_schema_input_type=str | None)]
Amount = Annotated[int | float, PlainValidator(check_amount, json_schema_input_type=_AMOUNT_JSON)]
MaybeAmount = Annotated[
    int | float | None, PlainValidator(check_amount, json_schema_input_type=_AMOUNT_JSON)
]
MaybeDuration = Annotated[
    int | float | None, PlainValidator(check_duration, json_schema_input_type=_DURATION_JSON)
]
MaybeSegment = Annotated[
    str | None, PlainValidator(check_segment, json_schema_input_type=_SEGMENT_JSON)
]
MaybeProbability = Annotated[
    int | float | None, PlainValidator(check_probability, json_schema_input_type=_PROBABILITY_JSON)
]
Category = Annotated[
    Literal["marketing", "sales"],
    PlainValidator(check_category, json_schema_input_type=Literal["marketing", "sales"]),
]
Timestamp = Annotated[
    datetime, PlainValidator(check_timestamp, json_schema_input_type=AwareDatetime)
]
