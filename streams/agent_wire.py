"""What the inter-agent message formats share: the leading format byte and msgpack array headers.

Messages between agents (``kpi-deltas``, ``customer-wins``) started as compact JSON, whose values
always begin with ``[``. Their msgpack formats begin with ``MSGPACK_FORMAT`` instead, so a reader
tells the two apart from the first byte, without a header, and still reads messages written
before the upgrade.

The writers encode each item on its own (to know its size and split a message before the
broker's limit) and join them under one array header written here, per the msgpack spec
(github.com/msgpack/msgpack/blob/master/spec.md, "array format family").
"""

from __future__ import annotations

from functools import lru_cache

from streams.routing import partition_of

MSGPACK_FORMAT = 0x02
"""First byte of a msgpack inter-agent message; 0x5B (``[``) starts the JSON ones."""


def array_header(length: int) -> bytes:
    """The msgpack header of an array of ``length`` items (fixarray, array 16 or array 32)."""
    if length < 16:
        return bytes((0x90 | length,))
    if length < 1 << 16:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


@lru_cache(maxsize=1 << 16)
def placed(routing_key: str, partitions: int) -> int:
    """``partition_of`` remembered: murmur2 in Python costs ~4 µs, and a worker sends and checks
    the same few thousand scope keys and customers over and over."""
    return partition_of(routing_key, partitions)
