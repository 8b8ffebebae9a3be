"""Settings group: the currency and calendar every KPI is reported in.

Ingest refuses events it could not convert, and the workers cut mtd and qtd windows in the
time zone, so both read the same values; an unknown zone stops a process at start.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator


class ReportingSettings(BaseModel):
    """Reporting currency, its conversion rates, and the time zone of calendar windows."""

    reporting_currency: str = Field(
        "EUR",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code all amounts are reported in; events in another currency "
        "need a configured rate.",
    )
    currency_rates_file: Path | None = Field(
        None,
        description="CSV file 'date,currency,rate' of conversion rates into the reporting "
        "currency (rate = value of 1 unit of currency on that UTC day; a day without a line uses "
        "the latest earlier one; format in events/currency.py and docs/OPERATIONS.md). Events in "
        "a currency without a rate are refused. Unset: only the reporting currency is accepted.",
    )
    time_zone: str = Field("UTC", description="IANA time zone of the calendar windows (mtd, qtd).")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value
