"""Which (scope, id) keys this worker owns right now, and who owns the others.

A key is owned by the worker that actively holds its ``kpi-deltas`` partition (its buckets live in
the co-partitioned tables). A worker exports and answers only for owned keys, and only once its
tables have recovered after the last rebalance: during a rebalance it exports no KPI series rather
than stale or half-recovered ones, so series are never reported by two workers at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from projections.tally import Tally
from streams.folds import bucket_key
from streams.routing import partition_of


class Ownership:
    def __init__(
        self,
        app: Any,
        live_keys: Any,
        buckets: Any,
        kpi_topic: str,
        partitions: int,
        caught_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self._app, self._live_keys, self._buckets = app, live_keys, buckets
        self._topic, self._partitions = kpi_topic, partitions
        self._caught_up = caught_up
        self._changes: dict[str, int] = {}
        self._live_partitions: dict[str, int] = {}
        """Partition of each live key, computed once: hashing every key at every scrape cost a
        third of a scrape at 10k keys. Only live keys enter it, never a client's query."""

    def mark_changed(self, keys: Iterable[str]) -> None:
        """The apply agent folded corrections into these keys' buckets."""
        changes = self._changes
        for key in keys:
            changes[key] = changes.get(key, 0) + 1

    def version(self, key: str) -> tuple[int, int]:
        """Changes when the key's buckets may have: a fold into them, or any rebalance (tables
        are recovered from their changelogs then)."""
        return (self._app.rebalancing_count, self._changes.get(key, 0))

    def is_recovered(self) -> bool:
        """Tables recovered and no rebalance under way."""
        return bool(not self._app.rebalancing and self._app.tables.actives_ready)

    def is_ready(self) -> bool:
        """Recovered, and caught up with the log if required (``streams.catch_up``)."""
        return self._caught_up() and self.is_recovered()

    def owned_partitions(self) -> set[int]:
        if not self.is_ready():
            return set()
        return {
            tp.partition for tp in self._app.assignor.assigned_actives() if tp.topic == self._topic
        }

    def partition_of(self, key: str) -> int:
        return partition_of(key, self._partitions)

    def owns(self, key: str) -> bool:
        return self.partition_of(key) in self.owned_partitions()

    def owned_keys(self) -> Iterator[str]:
        owned = self.owned_partitions()
        if not owned:
            return iter(())
        memo = self._live_partitions
        partitions = self._partitions

        def partition(key: str) -> int:
            found = memo.get(key)
            if found is None:
                found = memo[key] = partition_of(key, partitions)
            return found

        return (key for key in list(self._live_keys.keys()) if partition(key) in owned)

    def is_known(self, key: str) -> bool:
        return key in self._live_keys

    def lookup(self, key: str, grid_name: str, index: int) -> Tally | None:
        raw = self._buckets.get(bucket_key(key, grid_name, index))
        return None if raw is None else Tally.from_json(raw)

    def owner_url(self, key: str) -> str | None:
        """Web URL of the worker whose tables hold ``key`` (from the group's assignment)."""
        partition = self.partition_of(key)
        changelog = self._live_keys.changelog_topic.get_topic_name()
        for url, topics in self._app.router.tables_metadata().items():
            if partition in topics.get(changelog, ()):
                return str(url)
        return None

    def peer_urls(self) -> list[str]:
        """Web URLs of the other workers of the group (from the shared assignment)."""
        mine = self.my_url()
        urls = {str(url) for url in self._app.router.tables_metadata()}
        return sorted(url for url in urls if url != mine)

    def my_url(self) -> str:
        return str(self._app.conf.canonical_url)
