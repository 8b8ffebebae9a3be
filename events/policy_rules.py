"""The rules of contract section 1 that depend on the deployment, and the policy they read.

How far in the future an event may be, which currencies have a rate, and how large an amount may
be once converted: none of these is a shape rule, so the models (``events.models``) read an
`EventPolicy` from the pydantic validation context and call the checks here. Without a policy in
the context (a model built directly, e.g. when re-reading accepted events) they check nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationInfo

from events._fields import MAX_AMOUNT, refusal, shown
from events.currency import MICROS, RateTable, utc_day

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


def policy_of(info: ValidationInfo) -> EventPolicy | None:
    context: Any = info.context
    policy = context.get(POLICY_CONTEXT_KEY) if isinstance(context, dict) else None
    return policy if isinstance(policy, EventPolicy) else None


def check_not_too_far_in_the_future(value: datetime, info: ValidationInfo) -> datetime:
    policy = policy_of(info)
    if policy is not None:
        now = policy.clock()
        if value - now > policy.max_future:  # now + max_future could overflow
            raise refusal(
                f"must not be more than {_span(policy.max_future)} in the future "
                f"(got {iso(value)}, now is {iso(now)})"
            )
    return value


def check_has_a_rate(value: str | None, info: ValidationInfo) -> str | None:
    policy = policy_of(info)
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


def check_converted_within_the_maximum(value: Any, info: ValidationInfo) -> Any:
    """An amount converted into the reporting currency is bounded like a native one: a bucket
    sums at most so many of them, and one deal must fit a 64-bit micro-unit count (1e12 USD at
    150 JPY was 1.5e20 micro-units)."""
    converted = _reporting_micros(value, info)
    if converted is not None and converted > MAX_AMOUNT * MICROS:
        reporting = policy_of(info).reporting_currency  # type: ignore[union-attr]
        raise refusal(
            f"{shown(value)} {info.data['currency']} is {_units(converted)} {reporting}, "
            f"more than the maximum {MAX_AMOUNT:,} in the reporting currency"
        )
    return value


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _reporting_micros(value: Any, info: ValidationInfo) -> int | None:
    """The amount in micro-units of the reporting currency when a rate converts it, as the
    workers will (``projections.normalize.amount_micros``); None when nothing is converted."""
    policy = policy_of(info)
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
