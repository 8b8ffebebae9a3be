"""Native event models and the one gate every payload passes: `validate_event`.

The rules are contract section 1. Shape rules live on the models; the rules that depend on
deployment configuration (how far in the future an event may be, which currencies have a rate)
read an `EventPolicy` from the pydantic validation context (``events.policy_rules``), so nothing
here reads globals or the wall clock on its own.
"""

from datetime import datetime
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
    Amount,
    Category,
    Id,
    MaybeAmount,
    MaybeDuration,
    MaybeId,
    MaybeProbability,
    MaybeSegment,
    Text,
    Timestamp,
    refusal,
)
from events._reasons import NOT_AN_OBJECT, reasons_from
from events.errors import InvalidInput
from events.policy_rules import (
    POLICY_CONTEXT_KEY,
    EventPolicy,
    check_converted_within_the_maximum,
    check_has_a_rate,
    check_not_too_far_in_the_future,
    iso,
)

__all__ = [
    "DEAL_ATTRIBUTES",
    "EVENT_TYPES",
    "POLICY_CONTEXT_KEY",
    "CallLogged",
    "CostIncurred",
    "DealCreated",
    "DealEvent",
    "DealLost",
    "DealReopened",
    "DealUpdated",
    "DealWon",
    "Event",
    "EventBase",
    "EventPolicy",
    "InvalidEvent",
    "REFUSED_FIELDS",
    "event_json_schema",
    "validate_event",
]

EVENT_TYPES = (
    "deal.created",
    "deal.updated",
    "deal.won",
    "deal.lost",
    "deal.reopened",
    "call.logged",
    "cost.incurred",
)
DEAL_ATTRIBUTES = (
    "rep_id",
    "team_id",
    "customer_id",
    "amount",
    "channel",
    "segment",
    "probability",
)
"""Contract v2 appended ``segment`` and ``probability``; v1 events simply never carry them."""

SEGMENT_DESCRIPTION = "Customer type (contract v2), e.g. smb, mid-market, enterprise."
PROBABILITY_DESCRIPTION = (
    "Probability of closing (contract v2): a number from 0 to 1, not a percentage."
)


class InvalidEvent(InvalidInput):
    """An event the contract refuses; `reasons` are sentences naming the field and the rule."""

    http_status = 422

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
            raise refusal(f"must not be before {iso(EARLIEST_INSTANT)}")
        if value >= LATEST_INSTANT:
            raise refusal(f"must be before {iso(LATEST_INSTANT)}")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _not_too_far_in_the_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        return check_not_too_far_in_the_future(value, info)

    @field_validator("currency")
    @classmethod
    def _has_a_rate(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_has_a_rate(value, info)

    @field_validator("amount", check_fields=False)
    @classmethod
    def _converted_within_the_maximum(cls, value: Any, info: ValidationInfo) -> Any:
        return check_converted_within_the_maximum(value, info)


class DealEvent(EventBase):
    """Any `deal.*` event: a deal id plus whichever deal attributes the client sent."""

    deal_id: Id
    rep_id: MaybeId = None
    team_id: MaybeId = None
    customer_id: MaybeId = None
    amount: MaybeAmount = None
    channel: MaybeId = None
    segment: MaybeSegment = Field(None, description=SEGMENT_DESCRIPTION)
    probability: MaybeProbability = Field(None, description=PROBABILITY_DESCRIPTION)

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
    segment: MaybeSegment = Field(None, description=SEGMENT_DESCRIPTION)


Event = Annotated[
    DealCreated | DealUpdated | DealWon | DealLost | DealReopened | CallLogged | CostIncurred,
    Field(discriminator="type"),
]

_EVENTS: TypeAdapter[Event] = TypeAdapter(Event)

REFUSED_FIELDS = tuple(
    sorted(
        {"event", "key", "value"}
        | {
            name
            for model in (DealCreated, DealUpdated, DealWon, DealLost, DealReopened)
            + (CallLogged, CostIncurred)
            for name in model.model_fields
        }
    )
)
"""Every field a refusal can name ("amount: must be ..."): with ``key`` and ``value`` (of a Kafka
record) and ``event`` (the whole object), the bounded label values of refusal counters."""


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
