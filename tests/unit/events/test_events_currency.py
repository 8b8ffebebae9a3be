"""Currency conversion rates (events/currency.py): the file format, the rate of a day, exact math.

Expected values are computed by hand from the rates below.
"""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from events.currency import RatesError, convert_micros, load_rates, parse_rates
from events.models import EventPolicy, InvalidEvent, validate_event
from projections.normalize import amount_micros, deal_event_of
from projections.recompute import recompute
from projections.timebase import BucketGrid

RATES_CSV = """date,currency,rate
2026-02-01,USD,0.92
2026-02-10,USD,0.9
2026-02-12,GBP,1.17
"""
NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)


@pytest.fixture
def make_policy():
    """Factory: a policy with the rates of ``csv_text`` (default: RATES_CSV)."""

    def build(csv_text: str = RATES_CSV, reporting: str = "EUR") -> EventPolicy:
        rates = parse_rates(csv_text, reporting)
        return EventPolicy(reporting_currency=reporting, rates=rates, clock=lambda: NOW)

    return build


def cost(currency: str | None, amount, at: str = "2026-02-13T09:00:00Z") -> dict:
    event = {
        "event_id": f"cost-{currency}-{amount}-{at}",
        "type": "cost.incurred",
        "occurred_at": at,
        "category": "marketing",
        "amount": amount,
    }
    return {**event, "currency": currency} if currency else event


@pytest.mark.parametrize(
    ("currency", "day", "rate"),
    [
        ("USD", date(2026, 2, 1), Decimal("0.92")),
        ("USD", date(2026, 2, 9), Decimal("0.92")),
        ("USD", date(2026, 2, 10), Decimal("0.9")),
        ("USD", date(2026, 3, 1), Decimal("0.9")),
        ("USD", date(2026, 1, 31), None),
        ("GBP", date(2026, 2, 11), None),
        ("JPY", date(2026, 2, 14), None),
        ("EUR", date(1999, 1, 1), Decimal(1)),
    ],
)
def test_a_day_uses_its_own_rate_else_the_latest_earlier_one_else_none(currency, day, rate):
    assert parse_rates(RATES_CSV, "EUR").rate_on(currency, day) == rate


@pytest.mark.parametrize(
    ("amount", "rate", "micros"),
    [
        (1000, "0.9", 900_000_000),
        (99.99, "1.17", 116_988_300),
        (0.1, "0.92", 92_000),
        (1e12, "1.5", 1_500_000_000_000_000_000),
        (0.0000005, "1", 0),  # half to even: 0.5 micro -> 0
        (0.0000015, "1", 2),  # 1.5 micro -> 2
        (123.456789, "0.333333", 41_152_222),  # 41152221.847737 micro-units
    ],
)
def test_conversion_is_exact_decimal_arithmetic_rounded_half_even(amount, rate, micros):
    assert convert_micros(amount, Decimal(rate)) == micros


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("day,currency,rate\n", "line 1 must be the header date,currency,rate"),
        ("", "line 1 must be the header"),
        ("date,currency,rate\n2026-02-30,USD,1\n", "line 2: date must be YYYY-MM-DD"),
        ("date,currency,rate\n2026-02-01,usd,1\n", "line 2: currency must be an ISO 4217 code"),
        ("date,currency,rate\n2026-02-01,EUR,1\n", "line 2: EUR is the reporting currency"),
        ("date,currency,rate\n2026-02-01,USD,0\n", "line 2: rate must be a decimal number > 0"),
        ("date,currency,rate\n2026-02-01,USD,abc\n", "line 2: rate must be a decimal number"),
        ("date,currency,rate\n2026-02-01,USD,NaN\n", "line 2: rate must be a decimal number"),
        ("date,currency,rate\n\n2026-02-01,USD\n", "line 3: expected 3 fields"),
        (
            "date,currency,rate\n2026-02-01,USD,1\n2026-02-01,USD,2\n",
            "line 3: a second USD rate for 2026-02-01",
        ),
    ],
)
def test_a_broken_rates_file_is_refused_naming_the_line_and_the_rule(text, message):
    with pytest.raises(RatesError, match=message):
        parse_rates(text, "EUR")


def test_no_rates_file_configured_means_no_table_and_an_unreadable_one_is_an_error(tmp_path):
    assert load_rates(None, "EUR") is None
    with pytest.raises(RatesError, match="cannot read currency rates file"):
        load_rates(tmp_path / "missing.csv", "EUR")


def test_the_currencies_of_the_rates_file_are_the_rated_ones(make_policy):
    policy = make_policy()
    assert policy.rated_currencies == {"USD", "GBP"}
    assert hash(policy) == hash(replace(policy))


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            cost("USD", 5, "2026-01-31T23:59:59Z"),
            "currency: USD has no rate on or before 2026-01-31 (its first rate is dated "
            "2026-02-01)",
        ),
        (
            cost("GBP", 5, "2026-02-12T00:30:00+01:00"),
            "currency: GBP has no rate on or before 2026-02-11 (its first rate is dated "
            "2026-02-12)",
        ),
        (
            cost("JPY", 5),
            "currency: must be the reporting currency EUR or one with a rate (GBP, USD), not 'JPY'",
        ),
    ],
)
def test_an_event_in_a_currency_without_a_rate_on_its_utc_day_is_refused(
    make_policy, event, reason
):
    with pytest.raises(InvalidEvent) as refused:
        validate_event(event, make_policy())
    assert refused.value.reasons == [reason]


@pytest.mark.parametrize(
    ("event", "micros"),
    [
        (cost(None, 12.5), 12_500_000),
        (cost("EUR", 12.5), 12_500_000),
        (cost("USD", 1000, "2026-02-11T10:00:00Z"), 900_000_000),
        (cost("USD", 1000, "2026-02-10T00:30:00+01:00"), 920_000_000),  # UTC day: 02-09
        (cost("GBP", 99.99), 116_988_300),
    ],
)
def test_an_amount_is_converted_by_the_rate_of_its_events_utc_day(make_policy, event, micros):
    policy = make_policy()
    assert amount_micros(validate_event(event, policy), policy.rates) == micros


def test_a_deal_amount_in_another_currency_is_stored_converted(make_policy):
    policy = make_policy()
    won = {
        "event_id": "w-1",
        "type": "deal.won",
        "occurred_at": "2026-02-13T12:00:00Z",
        "deal_id": "d-1",
        "amount": 250,
        "currency": "GBP",
    }

    assert (
        deal_event_of(validate_event(won, policy), 0, policy.rates).attrs["amount"] == 292_500_000
    )


def test_a_recomputation_reports_revenue_and_costs_in_the_reporting_currency(make_policy):
    policy = make_policy()
    deal = {"deal_id": "d-1", "rep_id": "r-1", "team_id": "t-1", "customer_id": "c-1"}
    events = [
        {"event_id": "c", "type": "deal.created", "occurred_at": "2026-02-11T09:00:00Z",
         "amount": 1000, "currency": "USD", **deal},
        {"event_id": "w", "type": "deal.won", "occurred_at": "2026-02-13T09:00:00Z",
         "amount": 1100, "currency": "USD", **deal},
        cost("GBP", 99.99),
        cost(None, 10),
    ]  # fmt: skip

    store = recompute([validate_event(e, policy) for e in events], BucketGrid(), policy.rates)

    kpis = store.report_all(NOW)["team|t-1|7d"]
    company = store.report_all(NOW)["company||7d"]
    assert kpis["revenue"] == 990.0  # 1100 USD at 0.9 (rate of 02-10, latest before 02-13)
    assert company["cost_marketing"] == pytest.approx(126.9883, rel=1e-12)  # 116.9883 + 10
