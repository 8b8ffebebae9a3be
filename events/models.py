"""Native event models and the one gate every payload passes: `validate_event`.

The rules are contract section 1. Shape rules live on the models; the two rules that depend on
deployment configuration (how far in the future an event may be, which currencies have a rate)
read an `EventPolicy` from the pydantic validation context, so nothing here reads globals or the
wall clock on its own.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from events._fields import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    MAX_AMOUNT,
    Amount,
    Category,
    Id,
    MaybeAmount,
    MaybeDuration,
    MaybeId,
    Text,
    Timestamp,
    refusal,
    shown,
)
from events._reasons import NOT_AN_OBJECT, reasons_from
from events.currency import MICROS, RateTable, utc_day

EVENT_TYPES = (
    "deal.created",
    "deal.updated",
    "deal.won",
    "deal.lost",
    "deal.reopened",
    "call.logged",
    "cost.incurred",
)
DEAL_ATTRIBUTES = ("rep_id", "team_id", "customer_id", "amount", "channel")
POLICY_CONTEXT_KEY = "policy"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class EventPolicy:
    """Deployment-specific validation rules, passed to every validation.

    `clock` must return an aware datetime; tests pin it to make "the future" deterministic.
    `rates` (``events.currency``) converts amounts into the reporting currency; its currencies
    are rated, and an event dated before the first rate of its currency is refused.
    """

    reporting_currency: str = "EUR"
    rated_currencies: frozenset[str] = frozenset()
    max_future: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = _utcnow
    rates: RateTable | None = None

    def __post_init__(self) -> None:
        # Accept any iterable of codes from configuration, but keep the policy hashable.
        rated = frozenset(self.rated_currencies)
        if self.rates is not None:
            rated |= self.rates.currencies()
        object.__setattr__(self, "rated_currencies", rated)


class InvalidEvent(ValueError):
    """An event the contract refuses; `reasons` are sentences naming the field and the rule."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = list(reasons) or ["event: is not valid"]
        # args carries the list itself so that the exception survives pickling unchanged.
        super().__init__(self.reasons)

    def __str__(self) -> str:
        return "; ".join(self.reasons)


class EventBase(BaseModel):
    """Fields common to every event.

    Building a model directly (tests, re-reading already accepted events) checks the shape only;
    the policy rules apply when a policy is in the context, as `validate_event` always does.
    Unknown fields are ignored here: the original object, not the model, is what gets published.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    event_id: Id
    occurred_at: Timestamp
    source: Text = None
    currency: Text = None

    @field_validator("occurred_at")
    @classmethod
    def _within_the_kept_instants(cls, value: datetime) -> datetime:
        """Shape rule, policy or not: every date computation of a worker (windows, calendar days
        in any zone) stays inside what ``datetime`` can represent for these instants; an event of
        0001-01-01 was accepted once and crashed the agent that applied it."""
        if value < EARLIEST_INSTANT:
            raise refusal(f"must not be before {_iso(EARLIEST_INSTANT)}")
        if value >= LATEST_INSTANT:
            raise refusal(f"must be before {_iso(LATEST_INSTANT)}")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _not_too_far_in_the_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        policy = _policy_of(info)
        if policy is not None:
            now = policy.clock()
            if value - now > policy.max_future:  # now + max_future could overflow
                raise refusal(
                    f"must not be more than {_span(policy.max_future)} in the future "
                    f"(got {_iso(value)}, now is {_iso(now)})"
                )
        return value

    @field_validator("currency")
    @classmethod
    def _has_a_rate(cls, value: str | None, info: ValidationInfo) -> str | None:
        policy = _policy_of(info)
        if policy is None or value is None:
            return value
        if value == policy.reporting_currency:
            return value
        if value not in policy.rated_currencies:
            raise refusal(f"must be {_currencies_text(policy)}, not {shown(value)}")
        occurred_at = info.data.get("occurred_at")
        if policy.rates is not None and isinstance(occurred_at, datetime):
            day = utc_day(occurred_at)
            if policy.rates.rate_on(value, day) is None:
                first = policy.rates.first_day(value)
                raise refusal(
                    f"{value} has no rate on or before {day.isoformat()} (its first rate is "
                    f"dated {first.isoformat() if first else 'nowhere'})"
                )
        return value

    @field_validator("amount", check_fields=False)
    @classmethod
    def _converted_within_the_maximum(cls, value: Any, info: ValidationInfo) -> Any:
        """An amount converted into the reporting currency is bounded like a native one: a
        bucket sums at most so many of them, and one deal must fit a 64-bit micro-unit count
        (1e12 USD at 150 JPY was 1.5e20 micro-units)."""
        converted = _reporting_micros(value, info)
        if converted is not None and converted > MAX_AMOUNT * MICROS:
            reporting = _policy_of(info).reporting_currency  # type: ignore[union-attr]
            raise refusal(
                f"{shown(value)} {info.data['currency']} is {_units(converted)} {reporting}, "
                f"more than the maximum {MAX_AMOUNT:,} in the reporting currency"
            )
        return value


class DealEvent(EventBase):
    """Any `deal.*` event: a deal id plus whichever deal attributes the client sent."""

    deal_id: Id
    rep_id: MaybeId = None
    team_id: MaybeId = None
    customer_id: MaybeId = None
    amount: MaybeAmount = None
    channel: MaybeId = None

    def attributes(self) -> dict[str, object]:
        """The deal attributes this event carries, to overwrite the deal's current ones.

        Only attributes present in the input are listed: an absent attribute leaves the deal's
        value alone, which a plain `None` could not express.
        """
        present = self.model_fields_set
        return {name: getattr(self, name) for name in DEAL_ATTRIBUTES if name in present}


class DealCreated(DealEvent):
    type: Literal["deal.created"]
    rep_id: Id
    team_id: Id
    customer_id: Id
    amount: Amount


class DealUpdated(DealEvent):
    type: Literal["deal.updated"]


class DealWon(DealEvent):
    """An `amount` on it is the deal's final amount."""

    type: Literal["deal.won"]


class DealLost(DealEvent):
    type: Literal["deal.lost"]
    reason: Text = None


class DealReopened(DealEvent):
    type: Literal["deal.reopened"]


class CallLogged(EventBase):
    type: Literal["call.logged"]
    rep_id: Id
    team_id: Id
    deal_id: MaybeId = None
    duration_s: MaybeDuration = None


class CostIncurred(EventBase):
    """A cost; without `team_id` it counts at company (and channel) scope only."""

    type: Literal["cost.incurred"]
    amount: Amount
    category: Category
    team_id: MaybeId = None
    channel: MaybeId = None


Event = Annotated[
    DealCreated | DealUpdated | DealWon | DealLost | DealReopened | CallLogged | CostIncurred,
    Field(discriminator="type"),
]

_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


def validate_event(obj: object, policy: EventPolicy) -> Event:
    """The typed event for a decoded JSON value, or InvalidEvent listing every problem found."""
    if not isinstance(obj, dict):
        raise InvalidEvent([NOT_AN_OBJECT])
    try:
        return _EVENTS.validate_python(obj, context={POLICY_CONTEXT_KEY: policy})
    except ValidationError as error:
        raise InvalidEvent(reasons_from(error, EVENT_TYPES)) from error


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of the native event union, for API documentation (shape rules only)."""
    return _EVENTS.json_schema()


def _policy_of(info: ValidationInfo) -> EventPolicy | None:
    context: Any = info.context
    policy = context.get(POLICY_CONTEXT_KEY) if isinstance(context, dict) else None
    return policy if isinstance(policy, EventPolicy) else None


def _reporting_micros(value: Any, info: ValidationInfo) -> int | None:
    """The amount in micro-units of the reporting currency when a rate converts it, as the
    workers will (``projections.normalize.amount_micros``); None when nothing is converted."""
    policy = _policy_of(info)
    currency, occurred_at = info.data.get("currency"), info.data.get("occurred_at")
    if policy is None or policy.rates is None or value is None or currency is None:
        return None
    if currency == policy.rates.reporting_currency or not isinstance(occurred_at, datetime):
        return None
    if policy.rates.rate_on(currency, utc_day(occurred_at)) is None:
        return None  # refused by the currency rule already
    return policy.rates.to_reporting_micros(value, currency, occurred_at)


def _units(micros: int) -> str:
    whole, fraction = divmod(micros, int(MICROS))
    return f"{whole:,}" + (f".{fraction:06d}".rstrip("0") if fraction else "")


def _currencies_text(policy: EventPolicy) -> str:
    if not policy.rated_currencies:
        return f"the reporting currency {policy.reporting_currency} (no other currency has a rate)"
    rated = ", ".join(sorted(policy.rated_currencies))
    return f"the reporting currency {policy.reporting_currency} or one with a rate ({rated})"


def _span(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
