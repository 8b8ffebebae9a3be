"""What the three CRM adapters share: item outcomes, refusals, ids, vendor times and amounts.

Adapters are pure functions (payload + mapping + clock -> native event dicts). They never publish
and never read the wall clock themselves, so that every mapping rule is a table-driven unit test.
They map a delivery item by item (``ItemOutcome``): one bad item must never cost the others,
since a vendor that gets a 4xx drops the whole delivery, good items included.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import orjson

from events._fields import MAX_AMOUNT, parse_rfc3339
from events.errors import InvalidInput

REQUIRED_FOR_CREATED = ("rep_id", "team_id", "customer_id", "amount")
"""Contract section 1: a deal.created without these is invalid, so adapters send deal.updated."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_UTC = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?", re.ASCII)
_EPOCH_MS_FROM = 10**11
"""Epoch numbers at or above this are milliseconds: 10^11 seconds is the year 5138."""
MAX_AMOUNT_TEXT = 64
"""Longest amount text read as a number: far more than any real amount needs."""
MAX_AMOUNT_EXPONENT = len(str(MAX_AMOUNT)) - 1
"""Largest power of ten an amount may reach (the contract's amounts end at 10^12)."""
MAX_PROBABILITY_TEXT = 100
"""Longest probability text read as a number. HubSpot writes a stage probability of 0.2 with
every digit of its binary double (``0.200000000000000011102230246251565404236316680908203125``)."""
FRACTION, PERCENT = "fraction", "percent"
"""How a CRM writes a probability: HubSpot 0..1, Pipedrive and Salesforce 0..100."""


class InvalidDelivery(InvalidInput):
    """A delivery an adapter cannot map; the router answers ``status`` with ``code`` and reason."""

    def __init__(self, reason: str, code: str = "invalid_payload", status: int = 422) -> None:
        self.reason, self.code, self.status = reason, code, status
        super().__init__(reason)

    @property
    def http_status(self) -> int:
        """The adapter's own choice: 400 unreadable, 413 too many items, 422 otherwise."""
        return self.status


@dataclass(frozen=True)
class ItemOutcome:
    """What one item of a delivery became: native events, a skip, or a failure.

    ``skipped`` is a reason code for items the product does not use (counted, never dead
    lettered); ``failure`` the reason an item cannot become valid events (dead lettered).
    ``deal`` is the vendor's own id of the deal the item is about, when known: items of one deal
    travel together into a dead letter, and a deal source is asked about deals by these ids.
    """

    index: int
    events: tuple[dict, ...] = ()
    skipped: str | None = None
    failure: str | None = None
    deal: str | None = None


def item_outcome(index: int, deal: str | None, build: Callable[[], list[dict]]) -> ItemOutcome:
    """The events ``build`` maps for one item, or its failure; an empty result is a skip."""
    try:
        events = build()
    except InvalidDelivery as exc:
        return ItemOutcome(index, failure=exc.reason, deal=deal)
    if not events:
        return ItemOutcome(index, skipped="no_attributes", deal=deal)
    return ItemOutcome(index, tuple(events), deal=deal)


def strict_events(outcomes: Sequence[ItemOutcome]) -> list[dict]:
    """All events of a delivery, or InvalidDelivery for its first failed item.

    For callers that take a delivery as a whole (tests, tools); webhooks go item by item.
    """
    for outcome in outcomes:
        if outcome.failure is not None:
            raise InvalidDelivery(outcome.failure)
    return [event for outcome in outcomes for event in outcome.events]


def too_many(count: int, limit: int, what: str) -> InvalidDelivery:
    return InvalidDelivery(f"body: {count} {what}, at most {limit}", "too_many_events", 413)


def native_event_id(vendor: str, *identity: object) -> str:
    """A deterministic event id: the same delivery identity always gives the same id.

    A vendor retry of a delivery therefore produces byte-identical ids, and the workers drop the
    repeat as a duplicate (contract section 1). ``identity`` must name the vendor's own event and
    the role of the native event derived from it (one vendor event may give several).
    """
    digest = hashlib.sha256(orjson.dumps([vendor, *identity])).hexdigest()[:40]
    return f"{vendor}-{digest}"


def deal_event(
    kind: str, event_id: str, deal_id: str, at: datetime, source: str, attrs: dict | None = None
) -> dict:
    """A native deal event object; attributes that are None are left out (absent, not null).

    Absent matters: a present attribute overwrites the deal's value, and the contract refuses
    null ids, so an unknown value must be left out, never sent as null.
    """
    event = {
        "event_id": event_id,
        "type": kind,
        "occurred_at": rfc3339(at),
        "deal_id": deal_id,
        "source": source,
    }
    event.update({name: value for name, value in (attrs or {}).items() if value is not None})
    return event


def created_or_updated(attrs: dict) -> str:
    """deal.created when every attribute the contract requires is known, else deal.updated."""
    known = all(attrs.get(name) is not None for name in REQUIRED_FOR_CREATED)
    return "deal.created" if known else "deal.updated"


def rfc3339(moment: datetime) -> str:
    """UTC RFC 3339 text with a Z; the fraction of a second only when there is one."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_epoch_ms(value: int) -> datetime:
    """Exact instant of integer epoch milliseconds (no float rounding)."""
    return _EPOCH + timedelta(milliseconds=value)


def is_decimal_digits(text: str) -> bool:
    """ASCII digits only, and few enough for ``int`` (str.isdigit also accepts e.g. "²")."""
    return 0 < len(text) <= 20 and text.isascii() and text.isdigit()


def epoch_ms_time(value: object) -> datetime | None:
    """The instant of epoch milliseconds sent by a vendor; None if not an int or out of range.

    Out of range matters: a hostile ``9999999999999999999`` must be a refusal, not a crash.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    try:
        return from_epoch_ms(value)
    except OverflowError:
        return None


def vendor_time(value: object) -> datetime | None:
    """An instant from what CRMs send: RFC 3339, naive UTC text or epoch seconds/milliseconds.

    Pipedrive's v1 webhooks send ``2026-02-14 15:20:00`` (UTC without an offset); its v2 and the
    other vendors send RFC 3339 or epoch numbers. None when ``value`` is none of these.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_epoch_number(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    parsed = parse_rfc3339(text)
    if parsed is None and _NAIVE_UTC.fullmatch(text):
        parsed = parse_rfc3339(text.replace(" ", "T") + "Z")
    if parsed is None and is_decimal_digits(text):
        parsed = _from_epoch_number(int(text))
    return parsed


def _from_epoch_number(value: int | float) -> datetime | None:
    if not math.isfinite(value) or value < 0:
        return None
    try:
        if value >= _EPOCH_MS_FROM:
            return from_epoch_ms(int(value))
        return _EPOCH + timedelta(microseconds=round(value * 1_000_000))
    except OverflowError:
        return None


def parse_amount(value: object, where: str) -> int | float | None:
    """A CRM amount as a JSON number; None for an empty value, InvalidDelivery if not a number.

    HubSpot sends every property as a string and Salesforce's XML is all text; integral amounts
    stay integers so that the published JSON reads like what the CRM showed. Text is bounded
    before it becomes a number: ``int(Decimal("1e1000000"))`` alone takes seconds of CPU.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidDelivery(f"{where}: amount must be a number, not a boolean")
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str):
        raise InvalidDelivery(f"{where}: amount must be a number")
    return json_number(_bounded_decimal(value.strip(), where))


def _bounded_decimal(text: str, where: str) -> Decimal:
    """The finite Decimal of ``text``, refused when too long or beyond the contract's range.

    Parsing to Decimal is cheap for any exponent; only the magnitude check must come before
    anything converts it to an int or float.
    """
    shown = f"{text[:40]!r}"
    number = _decimal_text(text, "amount", MAX_AMOUNT_TEXT, where)
    if not number.is_finite():
        raise InvalidDelivery(f"{where}: amount {shown} is not a finite number")
    if number and number.adjusted() > MAX_AMOUNT_EXPONENT:
        raise InvalidDelivery(
            f"{where}: amount {shown} is out of range: at most {MAX_AMOUNT:,} "
            f"(10^{MAX_AMOUNT_EXPONENT})"
        )
    return number


def parse_probability(value: object, scale: str, where: str) -> int | float | None:
    """A CRM probability as the contract's 0..1 number; None when empty, InvalidDelivery if bad.

    ``scale`` is the CRM's documented one: a percent is divided by 100 here, at the edge, and a
    value outside 0..1 (0..100 for a percent) is refused like a bad amount rather than clamped,
    since a clamped 150 % would silently weigh the deal in full. The division is exact in
    Decimal, so 35 % is 0.35 and not 0.35000000000000003.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidDelivery(f"{where}: probability must be a number")
    top = 100 if scale == PERCENT else 1
    number = _probability_decimal(value, where)
    if not number.is_finite() or not 0 <= number <= top:
        shown = "" if isinstance(value, int) and abs(value) >= 1000 else f" {str(value)[:40]!r}"
        raise InvalidDelivery(f"{where}: probability{shown} is out of range: 0 to {top}")
    return json_number(number / top if scale == PERCENT else number)


def _probability_decimal(value: int | float | str, where: str) -> Decimal:
    """The Decimal of a probability, without ever converting a huge int or a long text."""
    if isinstance(value, int):
        return Decimal(value if -1000 < value < 1000 else 1000)
    if isinstance(value, float):
        return Decimal(repr(value))
    return _decimal_text(value.strip(), "probability", MAX_PROBABILITY_TEXT, where)


def _decimal_text(text: str, what: str, longest: int, where: str) -> Decimal:
    """The Decimal of a CRM's number text, refused past ``longest`` characters: parsing is cheap
    then, and the caller checks the magnitude before anything converts it."""
    if len(text) > longest:
        raise InvalidDelivery(f"{where}: {what} is longer than {longest} characters")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidDelivery(f"{where}: {what} {text[:40]!r} is not a number") from None


def json_number(number: Decimal) -> int | float:
    """An integral Decimal as an int, any other as a float; only for bounded magnitudes."""
    return int(number) if number == number.to_integral_value() else float(number)


def text_id(value: object) -> str | None:
    """A CRM id as text: a number, a string, or Pipedrive's ``{"value": ..}`` id object."""
    if isinstance(value, dict):
        value = value.get("value", value.get("id"))
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
