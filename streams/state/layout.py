"""Byte layout of the local state DB: column families, partition-prefixed keys, the meta record.

Every key starts with its partition as an unsigned 16-bit big-endian integer, so a partition is
one contiguous key range in every column family: dropping it is one range deletion, and a scan
by key prefix inside a partition (all ``days`` of a scope below a day) is one seek. Byte order
is RocksDB's order, so numbers inside keys must be big-endian (and sign-flipped when signed) for
a scan to follow numeric order; the typed key codecs (``projections/state_types.py``) do that.

The order of ``COLUMN_FAMILIES`` is persistent: a ``pending`` marker names its column family by
its index in that tuple. New kinds are appended, never inserted.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

META = "meta"
PENDING = "pending"
COLUMN_FAMILIES: tuple[str, ...] = (
    META,
    "deals",
    "deal_ix",
    "customers",
    "seen",
    "days",
    "day_ix",
    "carry",
    PENDING,
    "keys",
)
"""Every column family of the DB, in their persistent order (see the module docstring).
``keys`` lists the scope keys the apply agent ever folded into (what a scrape walks)."""

VALUE_FAMILIES: frozenset[str] = frozenset(COLUMN_FAMILIES) - {META, PENDING}
"""Column families the agents write through the dirty map; ``meta`` and ``pending`` are written
only by the store itself, inside checkpoints and spills."""

CF_ID: dict[str, int] = {name: index for index, name in enumerate(COLUMN_FAMILIES)}

MAX_PARTITION = 0xFFFE
"""Highest partition number: the next partition's prefix bounds every range, so 0xFFFF is kept
out (settings cap partitions far lower, at 1024)."""

META_KEY = b"m"
META_FORMAT = 1
_META_HEAD = struct.Struct(">BQH")
_OFFSET = struct.Struct(">q")
_SEQ = struct.Struct(">Q")


def partition_prefix(partition: int) -> bytes:
    """The two bytes every key of ``partition`` starts with."""
    if not 0 <= partition <= MAX_PARTITION:
        raise ValueError(f"partition {partition} outside 0..{MAX_PARTITION}")
    return partition.to_bytes(2, "big")


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key above every key starting with ``prefix`` (None: no such bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def pending_key(cf: str, key: bytes) -> bytes:
    """A ``pending`` marker's key (after the partition prefix): the column family's id, then the
    changed key, so a snapshot finds the value again."""
    return bytes([CF_ID[cf]]) + key


def split_pending_key(marker: bytes) -> tuple[str, bytes]:
    """The column family and key a ``pending`` marker names."""
    return COLUMN_FAMILIES[marker[0]], marker[1:]


def encode_seq(seq: int) -> bytes:
    """A checkpoint sequence number as a ``pending`` value."""
    return _SEQ.pack(seq)


def decode_seq(raw: bytes) -> int:
    """Inverse of ``encode_seq``."""
    return _SEQ.unpack(raw)[0]


@dataclass(frozen=True)
class MetaRecord:
    """What a checkpoint stores next to its values: where each input resumes, the checkpoint's
    sequence number, and opaque bytes for the engine (``extra``: empty today; the stream clocks
    of retention are values of their own, in ``day_ix`` and ``seen``)."""

    seq: int = 0
    offsets: Mapping[str, int] = field(default_factory=dict)
    extra: bytes = b""


def encode_meta(record: MetaRecord) -> bytes:
    """Format byte, seq (u64), count (u16), then per input: name length (u8), UTF-8 name, next
    offset (i64); the remaining bytes are ``extra``. Sorted by name, so equal records are equal
    bytes."""
    parts = [_META_HEAD.pack(META_FORMAT, record.seq, len(record.offsets))]
    for name in sorted(record.offsets):
        raw = name.encode()
        if len(raw) > 255:
            raise ValueError(f"input name longer than 255 bytes: {name[:40]!r}")
        parts.append(bytes([len(raw)]) + raw + _OFFSET.pack(record.offsets[name]))
    parts.append(record.extra)
    return b"".join(parts)


def decode_meta(raw: bytes) -> MetaRecord:
    """Inverse of ``encode_meta``; refuses a format it does not know rather than guess."""
    form, seq, count = _META_HEAD.unpack_from(raw)
    if form != META_FORMAT:
        raise ValueError(f"unknown meta record format {form}")
    at = _META_HEAD.size
    offsets: dict[str, int] = {}
    for _ in range(count):
        size = raw[at]
        name = raw[at + 1 : at + 1 + size].decode()
        at += 1 + size
        offsets[name] = _OFFSET.unpack_from(raw, at)[0]
        at += _OFFSET.size
    return MetaRecord(seq=seq, offsets=offsets, extra=bytes(raw[at:]))
