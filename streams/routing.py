"""Where a key lives: partitions, co-partitioned table keys, and the table class that honours them.

Every topic of salespulse has the same number of partitions and every key is placed with Kafka's
default partitioner (murmur2), exactly as the producers of the event topics place theirs. A table
key is either the routing key itself (a deal id, a customer id, a scope key) or a JSON array whose
first element is the routing key (a time bucket of a scope key, an event id seen for a rep).

Why a Table subclass: Faust writes a table change to the changelog partition of the *current
event*. Agents here fold a whole batch (``take_events``) that mixes partitions, so "the current
event" is the wrong one for most writes. ``Table.partition_for_key`` is Faust's documented hook for
choosing that partition; ``RoutedTable`` overrides it to place each key in the partition of its
routing key, which is also where the agent that owns the key reads its input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust
import orjson
from aiokafka.partitioner import murmur2


def partition_of(routing_key: str, partitions: int) -> int:
    """Kafka's default placement of a keyed record (Java and aiokafka agree)."""
    return (murmur2(routing_key.encode()) & 0x7FFFFFFF) % partitions


def composite_key(routing_key: str, *rest: str | int) -> str:
    return orjson.dumps([routing_key, *rest]).decode()


def parse_composite_key(key: str) -> list[Any]:
    return orjson.loads(key)


def routing_of_composite(key: str) -> str:
    return parse_composite_key(key)[0]


def routing_identity(key: str) -> str:
    return key


class RoutedTable(faust.Table):
    """A Faust table whose changelog partition follows each key's routing key.

    ``routing`` maps a table key to its routing key; ``partition_count`` is the shared partition
    count. Both are set by ``declare_routed_table`` right after Faust creates the table.
    """

    routing: Callable[[str], str] = staticmethod(routing_identity)
    partition_count: int = 1

    def partition_for_key(self, key: Any) -> int:
        return partition_of(self.routing(key), self.partition_count)


def declare_routed_table(
    app: faust.App,
    name: str,
    partitions: int,
    routing: Callable[[str], str] = routing_identity,
    **options: Any,
) -> RoutedTable:
    table = app.Table(name, partitions=partitions, key_type=str, **options)
    assert isinstance(table, RoutedTable), "create_app must configure Table=RoutedTable"
    table.routing = routing
    table.partition_count = partitions
    return table
