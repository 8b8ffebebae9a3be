"""CRM amounts are text: its magnitude is bounded before it ever becomes an int or a float.

``int(Decimal("1e1000000"))`` takes seconds of CPU (22 s for that one), so a 12-byte amount in a
webhook or an export would stall ingest's event loop. The refusal must come before any
conversion: the tests spy on the one conversion step and check it is never reached.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events._fields import MAX_AMOUNT
from events.crm import common
from events.crm.common import MAX_AMOUNT_TEXT, InvalidDelivery, parse_amount


@pytest.fixture
def conversions(monkeypatch) -> list[Decimal]:
    """The Decimals ``parse_amount`` converts to a JSON number, recorded as it does."""
    seen: list[Decimal] = []
    convert = common.json_number

    def spy(number: Decimal):
        seen.append(number)
        return convert(number)

    monkeypatch.setattr(common, "json_number", spy)
    return seen


@pytest.mark.parametrize(
    "text",
    ["1e1000000", "1E+300000", "-1e1000000", "9.9e99999999", "1e13", "12345678901234"],
)
def test_an_amount_beyond_the_contracts_range_is_refused_before_any_conversion(text, conversions):
    with pytest.raises(InvalidDelivery) as refused:
        parse_amount(text, "Notification[0].sObject.Amount")

    assert refused.value.reason == (
        f"Notification[0].sObject.Amount: amount {text!r} is out of range: at most "
        "1,000,000,000,000 (10^12)"
    )
    assert refused.value.status == 422
    assert conversions == []


def test_an_amount_text_longer_than_any_real_amount_is_refused_unread(conversions):
    text = "1" + "0" * MAX_AMOUNT_TEXT

    with pytest.raises(InvalidDelivery, match=f"amount is longer than {MAX_AMOUNT_TEXT} char"):
        parse_amount(text, "deal.value")
    assert conversions == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1200", 1200),
        ("1200.50", 1200.5),
        (" 1e12 ", MAX_AMOUNT),
        ("9.99e12", 9_990_000_000_000),  # within 10^13: the contract's own rule names the limit
        ("1e-1000000", 0.0),
        ("0e1000000", 0),
        ("-5", -5),
    ],
)
def test_amounts_in_range_keep_their_value_and_tiny_or_zero_exponents_are_harmless(text, number):
    assert parse_amount(text, "amount") == number


@given(
    mantissa=st.decimals(allow_nan=False, allow_infinity=False, places=3, max_value=10**6),
    exponent=st.integers(min_value=-(10**9), max_value=10**9),
)
def test_any_numeric_text_is_a_bounded_number_or_a_refusal(mantissa, exponent):
    text = f"{mantissa}e{exponent}"

    try:
        number = parse_amount(text, "amount")
    except InvalidDelivery as refused:
        assert "out of range" in refused.reason or "longer than" in refused.reason
        return
    assert abs(number) <= 10 * MAX_AMOUNT
    assert isinstance(number, int | float)
