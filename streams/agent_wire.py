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

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from streams.routing import partition_of

MSGPACK_FORMAT = 0x02
"""First byte of a msgpack inter-agent message; 0x5B (``[``) starts the JSON ones."""
BODY_HEADER = bytes([MSGPACK_FORMAT, 0x91])
"""Format byte, then the msgpack array of a message body's one field (its list of items)."""
MAX_MESSAGE_BYTES = 512 * 1024
"""Items per message are cut at this size, well below the broker's 1 MiB."""


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """A ready inter-agent message, sent to ``partition`` explicitly (its key only labels it)."""

    partition: int
    key: bytes
    value: bytes


def pack_messages(
    items: Iterable[tuple[str, bytes]],
    partitions: int,
    max_items: int | None = None,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[AgentMessage]:
    """Encoded items (routing key, msgpack bytes) as messages per partition of their routing key,
    in their order, each message at most ``max_items`` items and about ``max_bytes`` bytes."""
    by_partition: dict[int, list[tuple[str, bytes]]] = {}
    for routing_key, item in items:
        by_partition.setdefault(placed(routing_key, partitions), []).append((routing_key, item))
    messages = []
    for partition, routed in by_partition.items():
        chunk: list[tuple[str, bytes]] = []
        size = 0
        for routing_key, item in routed:
            full = len(chunk) == max_items or size + len(item) > max_bytes
            if chunk and full:
                messages.append(_message(partition, chunk))
                chunk, size = [], 0
            chunk.append((routing_key, item))
            size += len(item)
        messages.append(_message(partition, chunk))
    return messages


def _message(partition: int, chunk: list[tuple[str, bytes]]) -> AgentMessage:
    value = b"".join([BODY_HEADER, array_header(len(chunk)), *(item for _, item in chunk)])
    return AgentMessage(partition, chunk[0][0].encode(), value)


def array_header(length: int) -> bytes:
    """The msgpack header of an array of ``length`` items (fixarray, array 16 or array 32)."""
    if length < 16:
        return bytes((0x90 | length,))
    if length < 1 << 16:
        return b"\xdc" + length.to_bytes(2, "big")
    return b"\xdd" + length.to_bytes(4, "big")


@lru_cache(maxsize=1 << 16)
def placed(routing_key: str, partitions: int) -> int:
    """``partition_of`` remembered: murmur2 runs in Python, and a worker sends and checks the
    same few thousand scope keys and customers over and over."""
    return partition_of(routing_key, partitions)
