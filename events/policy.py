"""The validation policy of a deployment, built from its settings (ingest and workers alike)."""

from __future__ import annotations

from typing import Any

from events.currency import load_rates
from events.models import EventPolicy
from events.settings import Settings


def event_policy(settings: Settings, **overrides: Any) -> EventPolicy:
    """Reporting currency and conversion rates from ``settings``; ``overrides`` e.g. a clock.

    A broken rates file raises ``events.currency.RatesError`` here, so a process refuses to start
    rather than dead-letter every event in a foreign currency.
    """
    rates = load_rates(settings.currency_rates_file, settings.reporting_currency)
    return EventPolicy(reporting_currency=settings.reporting_currency, rates=rates, **overrides)
