"""Keys of the state DB: every key parses back to what made it, and byte order (RocksDB's) is
the numeric order of days, then the code point order of ids and scope keys, NUL and lone
surrogates included."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.state_keys import (
    StateKeyError,
    carry_key,
    customer_key,
    day_bound,
    day_ix_key,
    days_key,
    days_prefix,
    days_range,
    deal_ix_key,
    deal_key,
    decode_day,
    encode_day,
    seen_key,
    split_day_ix_key,
    split_days_key,
    split_deal_ix_key,
    split_seen_key,
    text_of_key,
)

DAY_MIN, DAY_MAX = -(2**31), 2**31 - 1
TRICKY = "\x00\x01\xff|a\ud800\udfff\U0010ffff"
"""NUL (the escape's own byte), the terminator's second byte, lone surrogates, the last one."""

narrow_texts = st.text(st.sampled_from(TRICKY), max_size=6)
"""Few distinct characters: equal texts, prefixes and NULs at every place come up often."""
texts = narrow_texts | st.text(st.characters(exclude_categories=()), max_size=12)
days = st.integers(DAY_MIN, DAY_MAX) | st.integers(-3, 3) | st.sampled_from([DAY_MIN, DAY_MAX])

DAY_FIRST = [
    (deal_ix_key, split_deal_ix_key),
    (day_ix_key, split_day_ix_key),
    (seen_key, split_seen_key),
]


@pytest.mark.parametrize(
    ("day", "raw"),
    [
        (0, b"\x80\x00\x00\x00"),
        (1, b"\x80\x00\x00\x01"),
        (-1, b"\x7f\xff\xff\xff"),
        (20_500, b"\x80\x00\x50\x14"),
        (DAY_MIN, b"\x00\x00\x00\x00"),
        (DAY_MAX, b"\xff\xff\xff\xff"),
    ],
)
def test_a_day_is_four_big_endian_bytes_with_the_sign_bit_flipped(day, raw):
    assert encode_day(day) == raw
    assert decode_day(raw) == day


@pytest.mark.parametrize("day", [DAY_MIN - 1, DAY_MAX + 1])
def test_a_day_outside_32_bits_has_no_key(day):
    with pytest.raises(ValueError, match="outside"):
        encode_day(day)


@pytest.mark.parametrize(
    ("scope_key", "day", "raw"),
    [
        ("rep|r-1", 0, b"rep|r-1\x00\x01\x80\x00\x00\x00"),
        ("rep|a\x00b", -1, b"rep|a\x00\xffb\x00\x01\x7f\xff\xff\xff"),
        ("", 2, b"\x00\x01\x80\x00\x00\x02"),
    ],
)
def test_a_days_key_escapes_nul_and_ends_its_scope_key_before_the_day(scope_key, day, raw):
    assert days_key(scope_key, day) == raw
    assert split_days_key(raw) == (scope_key, day)


@pytest.mark.parametrize("make", [deal_key, customer_key, carry_key])
@given(text=texts)
@settings(max_examples=100)
def test_an_id_key_is_its_text_and_parses_back(make, text):
    assert text_of_key(make(text)) == text


@pytest.mark.parametrize(("make", "split"), DAY_FIRST)
@given(day=days, text=texts)
@settings(max_examples=150)
def test_a_day_first_key_parses_back_to_its_day_and_text(make, split, day, text):
    assert split(make(day, text)) == (day, text)


@given(day=days, scope_key=texts)
@settings(max_examples=150)
def test_a_days_key_parses_back_to_its_scope_key_and_day(day, scope_key):
    assert split_days_key(days_key(scope_key, day)) == (scope_key, day)


@given(first=st.tuples(days, texts), second=st.tuples(days, texts))
@settings(max_examples=200)
def test_day_first_keys_sort_by_day_then_text(first, second):
    assert (day_ix_key(*first) < day_ix_key(*second)) == (first < second)


@given(first=st.tuples(texts, days), second=st.tuples(texts, days))
@settings(max_examples=200)
def test_days_keys_sort_by_scope_key_then_day(first, second):
    assert (days_key(*first) < days_key(*second)) == (first < second)


@given(prefix=texts, rest=texts, day=days)
@settings(max_examples=200)
def test_a_scope_keys_days_prefix_holds_no_other_scope_keys_days(prefix, rest, day):
    other = prefix + rest
    assert days_key(other, day).startswith(days_prefix(prefix)) == (rest == "")


@given(scope_key=texts, other=texts, first=days, end=days, day=days)
@settings(max_examples=200)
def test_a_days_range_holds_exactly_the_scope_keys_days_in_it(scope_key, other, first, end, day):
    lower, upper = days_range(scope_key, first, end)
    inside = lower <= days_key(other, day) < upper
    assert inside == (other == scope_key and first <= day < end)


@given(horizon=days, day=days, text=texts)
@settings(max_examples=150)
def test_the_day_bound_splits_day_first_keys_at_the_horizon(horizon, day, text):
    assert (deal_ix_key(day, text) < day_bound(horizon)) == (day < horizon)


@pytest.mark.parametrize("day", [0, -1, DAY_MAX])
def test_a_nul_in_a_scope_key_cannot_pass_for_a_day_of_a_shorter_one(day):
    lookalike_day = decode_day(b"\x7fAAA")  # a negative day whose bytes are also UTF-8 text
    lower, upper = days_range("rep|a", lookalike_day, lookalike_day + 1)
    assert not lower <= days_key("rep|a\x00\x7fAAA", day) < upper


@pytest.mark.parametrize(
    ("split", "raw"),
    [
        (split_days_key, b"rep|a\x80\x00\x00\x00"),
        (split_days_key, b"rep|a\x00\x02\x80\x00\x00\x00"),
        (split_days_key, b"rep|a\x00\x01\x80\x00"),
        (split_days_key, b"rep|a\x00"),
        (split_day_ix_key, b"\x80\x00"),
        (split_seen_key, b"\x80\x00\x00\x00\xff"),
        (split_deal_ix_key, b"\x80\x00\x00\x00\xc3"),
    ],
)
def test_bytes_that_are_no_key_of_the_family_are_refused(split, raw):
    with pytest.raises(StateKeyError):
        split(raw)
