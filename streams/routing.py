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
from faust.stores.rocksdb import Store as RocksDBStore
from yarl import URL

from streams.write_behind import WriteBehindChangelog


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


class RoutedTable(WriteBehindChangelog, faust.Table):
    """A Faust table whose changelog partition follows each key's routing key, and whose changelog
    records are sent once per changed key per commit (``streams.write_behind``).

    ``routing`` maps a table key to its routing key; ``partition_count`` is the shared partition
    count. Both are set by ``declare_routed_table`` right after Faust creates the table.
    """

    routing: Callable[[str], str] = staticmethod(routing_identity)
    partition_count: int = 1

    def partition_for_key(self, key: Any) -> int:
        return partition_of(self.routing(key), self.partition_count)

    def _new_store_by_url(self, url: str | URL) -> Any:
        if URL(str(url)).scheme != "rocksdb":
            return super()._new_store_by_url(url)
        return RoutedRocksDBStore(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )


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


class RoutedRocksDBStore(RocksDBStore):
    """Faust's RocksDB store, with each key in the partition database of its routing key.

    Faust's store picks the partition database from the *current event* (and refuses a write
    without one), which is wrong for batch folds as explained above. ``_get``, ``_set`` and
    ``_contains`` are the storage hooks a Faust store implements; these place and find a key
    exactly where ``RoutedTable.partition_for_key`` puts its changelog record, so recovery after
    a restart and live writes agree.
    """

    def _routed_partition(self, key: bytes) -> int:
        return self.table.partition_for_key(orjson.loads(key))

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = self._routed_partition(key)
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)

    def _get(self, key: bytes) -> bytes | None:
        return self._db_for_partition(self._routed_partition(key)).get(key)

    def _contains(self, key: bytes) -> bool:
        return self._get(key) is not None
