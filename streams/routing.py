"""Where a key lives: partitions and co-partitioned state keys.

Every topic of salespulse has the same number of partitions and every key is placed with Kafka's
default partitioner (murmur2), exactly as the producers of the event topics place theirs. A state
key is either the routing key itself (a deal id, a customer id, a scope key) or a JSON array whose
first element is the routing key (a time bucket of a scope key, an event id seen for a rep); it
lives in the partition of its routing key, which is also where the agent that owns it reads its
input (``streams.state.engine``).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka.partitioner import murmur2


def partition_of(routing_key: str, partitions: int) -> int:
    """Kafka's default placement of a keyed record (Java and aiokafka agree)."""
    return (murmur2(routing_key.encode()) & 0x7FFFFFFF) % partitions


def composite_key(routing_key: str, *rest: str | int) -> str:
    return orjson.dumps([routing_key, *rest]).decode()


def parse_composite_key(key: str) -> list[Any]:
    return orjson.loads(key)
