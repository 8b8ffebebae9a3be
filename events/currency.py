"""Conversion rates into the reporting currency, by day (the file named by
``SALESPULSE_CURRENCY_RATES_FILE``).

The file is CSV with the header ``date,currency,rate``; one line per (day, currency)::

    date,currency,rate
    2026-02-01,USD,0.9210
    2026-02-14,USD,0.9187

``rate`` is the value of one unit of ``currency`` in the reporting currency on that UTC day (above:
1 USD = 0.9187 EUR from 2026-02-14 on), a plain decimal > 0. An amount is converted by the rate of
its event's day, the UTC date of ``occurred_at``; a day without a line uses the latest earlier
line of that currency (rates are typically published on business days only). An event dated
before the first rate of its currency has no rate and is refused like an unknown currency.

Conversion is exact and deterministic: amount (as the shortest decimal text of the number the
client sent) times rate, in integer micro-units of the reporting currency, half-even rounding.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

from events.errors import Misconfigured

HEADER = ["date", "currency", "rate"]
MICROS = Decimal(1_000_000)


class RatesError(Misconfigured):
    """The rates file cannot be read or breaks the documented format."""


@dataclass(frozen=True)
class RateTable:
    """Rates by currency, each a tuple of (day, rate) sorted by day. Hashable and immutable."""

    reporting_currency: str
    rates: tuple[tuple[str, tuple[tuple[date, Decimal], ...]], ...] = ()
    _index: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        self._index.update(
            {currency: ([day for day, _ in days], days) for currency, days in self.rates}
        )

    def currencies(self) -> frozenset[str]:
        return frozenset(self._index)

    def first_day(self, currency: str) -> date | None:
        entry = self._index.get(currency)
        return entry[0][0] if entry else None

    def rate_on(self, currency: str, day: date) -> Decimal | None:
        """The rate of ``day``: that day's line, else the latest earlier one; None if none."""
        if currency == self.reporting_currency:
            return Decimal(1)
        entry = self._index.get(currency)
        if entry is None:
            return None
        days, rates = entry
        position = bisect.bisect_right(days, day)
        return rates[position - 1][1] if position else None

    def to_reporting_micros(self, amount: int | float, currency: str, at: datetime) -> int:
        """``amount`` of ``currency`` at instant ``at`` in micro-units of the reporting currency.

        Raises ``RatesError`` when the currency has no rate on that day (validation refuses such
        events first, so a worker never meets one).
        """
        day = utc_day(at)
        rate = self.rate_on(currency, day)
        if rate is None:
            raise RatesError(f"no {currency} rate on or before {day.isoformat()}")
        return convert_micros(amount, rate)


def utc_day(at: datetime) -> date:
    """The UTC calendar day of an aware instant: the day whose rate applies."""
    return at.astimezone(UTC).date()


def convert_micros(amount: int | float, rate: Decimal) -> int:
    """``amount * rate`` in integer micro-units, exact, rounded half to even."""
    exact = Decimal(repr(amount)) * rate * MICROS
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def parse_rates(text: str, reporting_currency: str, source: str = "rates") -> RateTable:
    """The table in CSV ``text``; ``RatesError`` naming the line and the rule otherwise."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if [cell.strip().lower() for cell in header or []] != HEADER:
        raise RatesError(f"{source}: line 1 must be the header {','.join(HEADER)}, not {header}")
    by_currency: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        day, currency, rate = _row(row, f"{source}: line {number}", reporting_currency)
        if day in by_currency[currency]:
            raise RatesError(f"{source}: line {number}: a second {currency} rate for {day}")
        by_currency[currency][day] = rate
    return RateTable(
        reporting_currency,
        tuple(
            (currency, tuple(sorted(days.items())))
            for currency, days in sorted(by_currency.items())
        ),
    )


def _row(row: list[str], where: str, reporting_currency: str) -> tuple[date, str, Decimal]:
    if len(row) != 3:
        raise RatesError(f"{where}: expected 3 fields (date,currency,rate), got {len(row)}")
    day_text, currency, rate_text = (cell.strip() for cell in row)
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise RatesError(f"{where}: date must be YYYY-MM-DD, not {day_text!r}") from None
    if len(currency) != 3 or not currency.isascii() or not currency.isupper():
        raise RatesError(f"{where}: currency must be an ISO 4217 code like USD, not {currency!r}")
    if currency == reporting_currency:
        raise RatesError(f"{where}: {currency} is the reporting currency (its rate is always 1)")
    try:
        rate = Decimal(rate_text)
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate <= 0:
        raise RatesError(f"{where}: rate must be a decimal number > 0, not {rate_text!r}")
    return day, currency, rate


def load_rates(path: Path | str | None, reporting_currency: str) -> RateTable | None:
    """The rates in ``path``, or None when no file is configured."""
    if path is None:
        return None
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RatesError(f"cannot read currency rates file {path}: {exc}") from exc
    return parse_rates(text, reporting_currency, str(path))
