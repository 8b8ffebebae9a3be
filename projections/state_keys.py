"""Keys of the local state DB's column families (after the partition prefix), and their parsers.

RocksDB orders keys by their bytes, and retention (design state-engine-v2 §8) scans "every value
below day H" as one range. So numbers inside keys are big-endian with the sign bit flipped
(``encode_day``): byte order is numeric order, negative days included. A key that starts with a
day is ``day + text``: all keys of days below H are exactly the keys below ``day_bound(H)``.

Text. Ids are any string of 1 to 128 characters (``events._fields.check_id``), NUL included, and
scope keys embed them (``rep|<id>``). Text is UTF-8 ("surrogatepass": a lone surrogate still
round-trips; UTF-8 byte order is code point order, Python's ``str`` order). Where text ends a key
it needs no delimiter. The one key with text *before* a number, ``days`` (scope key, then day),
uses the order-preserving, prefix-free escape of CockroachDB's ``EncodeBytesAscending``: NUL
becomes ``00 FF`` and the text ends with ``00 01``. Without NUL in the scope key this is the
design's ``scope key + b"\\0" + day`` plus one byte; with NUL, ``rep|a`` and ``rep|a\\0...`` can
no longer be mistaken for each other in a prefix or range scan (a bare ``\\0`` delimiter would
let the second one's keys fall inside the first one's day range).
"""

from __future__ import annotations

from events.errors import CorruptRecord

DAY_BYTES = 4
"""A UTC day number as a signed 32-bit int (±5.8 million years around 1970)."""
_SIGN = 1 << (DAY_BYTES * 8 - 1)
ESCAPE = b"\x00\xff"
TERMINATOR = b"\x00\x01"


class StateKeyError(CorruptRecord):
    """Bytes that are not a key of the expected column family."""


def encode_day(day: int) -> bytes:
    """A UTC day number (days since 1970-01-01, negative before) in order-preserving bytes."""
    if not -_SIGN <= day < _SIGN:
        raise ValueError(f"day {day} outside the signed {DAY_BYTES * 8}-bit range")
    return (day + _SIGN).to_bytes(DAY_BYTES, "big")


def decode_day(raw: bytes) -> int:
    """Inverse of ``encode_day`` (exactly ``DAY_BYTES`` bytes)."""
    if len(raw) != DAY_BYTES:
        raise StateKeyError(f"a day is {DAY_BYTES} bytes, not {len(raw)}")
    return int.from_bytes(raw, "big") - _SIGN


def day_bound(day: int) -> bytes:
    """Upper bound of a range scan over a day-first column family (``day_ix``, ``seen``,
    ``deal_ix``): every key of a day below ``day`` is below it, every other key at or above."""
    return encode_day(day)


def encode_text(text: str) -> bytes:
    """Text that ends a key: its UTF-8 bytes."""
    return text.encode("utf-8", "surrogatepass")


def decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as error:
        raise StateKeyError(f"key text is not UTF-8: {error}") from error


def escape_text(text: str) -> bytes:
    """Text followed by more key bytes: NUL escaped, then the terminator (module docstring)."""
    return encode_text(text).replace(b"\x00", ESCAPE) + TERMINATOR


def unescape_text(raw: bytes) -> tuple[str, int]:
    """The text ``escape_text`` wrote at the start of ``raw``, and where the rest begins."""
    parts = []
    start = 0
    while True:
        nul = raw.find(b"\x00", start)
        if nul < 0 or nul + 1 >= len(raw):
            raise StateKeyError("escaped key text without its terminator")
        parts.append(raw[start:nul])
        marker = raw[nul + 1]
        if marker == TERMINATOR[1]:
            return decode_text(b"\x00".join(parts)), nul + 2
        if marker != ESCAPE[1]:
            raise StateKeyError(f"NUL followed by {marker:#04x} in escaped key text")
        start = nul + 2


# deals, customers, carry: the id or scope key alone.


def deal_key(deal_id: str) -> bytes:
    """``deals``: a deal's record or summary."""
    return encode_text(deal_id)


def customer_key(customer_id: str) -> bytes:
    """``customers``: a customer's win states."""
    return encode_text(customer_id)


def carry_key(scope_key: str) -> bytes:
    """``carry``: the open-deal stock totals of a scope key (``Carry``)."""
    return encode_text(scope_key)


def text_of_key(key: bytes) -> str:
    """The id or scope key of a ``deals``, ``customers`` or ``carry`` key."""
    return decode_text(key)


# deal_ix, seen, day_ix: day first, for retention's range scans. Only ``day_ix_key`` is written
# today (``streams.state.tables.DayTable``); ``deal_ix`` and ``seen`` are written by agents whose
# tables are text-keyed JSON (``streams.state.tables.StoredTable``), so they hold the same
# day-then-id order as text (``streams.retention.day_text`` + id: ``streams.deal_memory``,
# ``streams.retention.seen_index_key``). ``deal_ix_key`` and ``seen_key`` are the typed layout's
# (``projections.state_records``), for when those tables become typed.


def _day_then_text(day: int, text: str) -> bytes:
    return encode_day(day) + encode_text(text)


def _split_day_then_text(key: bytes) -> tuple[int, str]:
    if len(key) < DAY_BYTES:
        raise StateKeyError(f"a day-first key has at least {DAY_BYTES} bytes, not {len(key)}")
    return decode_day(key[:DAY_BYTES]), decode_text(key[DAY_BYTES:])


def deal_ix_key(close_day: int, deal_id: str) -> bytes:
    """``deal_ix``: a closed deal under the day from which it may be summarised."""
    return _day_then_text(close_day, deal_id)


def split_deal_ix_key(key: bytes) -> tuple[int, str]:
    """(close day, deal id) of a ``deal_ix`` key."""
    return _split_day_then_text(key)


def seen_key(day: int, routing_key: str) -> bytes:
    """``seen``: the call or cost event ids of one routing key first seen on one UTC day."""
    return _day_then_text(day, routing_key)


def split_seen_key(key: bytes) -> tuple[int, str]:
    """(day, routing key) of a ``seen`` key."""
    return _split_day_then_text(key)


def day_ix_key(day: int, scope_key: str) -> bytes:
    """``day_ix``: lists the ``days`` value of (scope key, day), so retention finds old days."""
    return _day_then_text(day, scope_key)


def split_day_ix_key(key: bytes) -> tuple[int, str]:
    """(day, scope key) of a ``day_ix`` key."""
    return _split_day_then_text(key)


# days: scope key first, so one key's days are one contiguous range.


def days_prefix(scope_key: str) -> bytes:
    """The prefix of every ``days`` key of ``scope_key``, and of no other scope key's."""
    return escape_text(scope_key)


def days_key(scope_key: str, day: int) -> bytes:
    """``days``: the ``DayValue`` of (scope key, UTC day)."""
    return days_prefix(scope_key) + encode_day(day)


def days_range(scope_key: str, first_day: int, end_day: int) -> tuple[bytes, bytes]:
    """[lower, upper) of a scan over the ``days`` of ``scope_key`` in [first_day, end_day)."""
    prefix = days_prefix(scope_key)
    return prefix + encode_day(first_day), prefix + encode_day(end_day)


def split_days_key(key: bytes) -> tuple[str, int]:
    """(scope key, day) of a ``days`` key."""
    scope_key, rest = unescape_text(key)
    return scope_key, decode_day(key[rest:])
