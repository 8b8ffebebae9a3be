"""Which (scope, id) keys this worker owns right now, and who owns the others.

A key is owned by the worker that actively holds its ``kpi-deltas`` partition (its day values
live in that partition's state, ``streams.state.engine``). A worker exports and answers only for
owned keys, and only once it has replayed its inputs after the last rebalance or restart up to
where the group had committed: during a rebalance it exports no KPI series rather than stale or
half-replayed ones, so series are never reported by two workers at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from projections import day_readout
from projections.day_readout import DayReader
from projections.day_values import HOURS_PER_DAY
from projections.kpis import OpenStock
from projections.readout import StockReader
from projections.state_types import DayValue
from projections.timebase import BucketGrid
from streams.faust_ext import introspect
from streams.retention import retained_from
from streams.routing import partition_of


class Ownership:
    def __init__(
        self,
        app: Any,
        engine: Any,
        kpi_topic: str,
        partitions: int,
        grid: BucketGrid,
        caught_up: Callable[[], bool] = lambda: True,
    ) -> None:
        self._app, self._engine, self._grid = app, engine, grid
        self._topic, self._partitions = kpi_topic, partitions
        self._caught_up = caught_up
        self._changes: dict[str, int] = {}
        self._last: tuple[str, int] = ("", -1)
        """The last key whose partition was computed: a report looks one key up ~200 times."""

    def mark_changed(self, keys: Iterable[str]) -> None:
        """The apply agent folded corrections into these keys' day values."""
        changes = self._changes
        for key in keys:
            changes[key] = changes.get(key, 0) + 1

    def version(self, key: str) -> tuple[int, int]:
        """Changes when the key's day values may have: a fold into them, or any rebalance (a
        partition may come back replayed from an older checkpoint)."""
        return (introspect.rebalance_count(self._app), self._changes.get(key, 0))

    def is_recovered(self) -> bool:
        """No rebalance under way, and every owned partition replayed up to the group's
        committed offset (``StateEngine.replayed``)."""
        if not introspect.is_settled(self._app):
            return False
        return bool(self._engine.replayed(self._assigned()))

    def replay_remaining(self) -> int:
        """Records the apply agent still has to replay before this worker is recovered."""
        return int(self._engine.replay_remaining(self._assigned()))

    def is_ready(self) -> bool:
        """Recovered, and caught up with the log if required (``streams.catch_up``)."""
        return self._caught_up() and self.is_recovered()

    def _assigned(self) -> set[int]:
        return introspect.assigned_partitions(self._app, self._topic)

    def owned_partitions(self) -> set[int]:
        if not self.is_ready():
            return set()
        return self._assigned()

    def partition_of(self, key: str) -> int:
        last_key, last_partition = self._last
        if key == last_key and last_partition >= 0:
            return last_partition
        found = partition_of(key, self._partitions)
        self._last = (key, found)
        return found

    def owns(self, key: str) -> bool:
        return self.partition_of(key) in self.owned_partitions()

    def owned_keys(self) -> Iterator[str]:
        for partition in sorted(self.owned_partitions()):
            yield from self._engine.live_keys(partition)

    def is_known(self, key: str) -> bool:
        return key in self._engine.live_keys(self.partition_of(key))

    def report(self, key: str, now: datetime) -> dict[str, dict] | None:
        """KPIs of the six windows, or None when the key contributes to none and has no open
        deal (contract section 4)."""
        read_day, stocks, days = self._read_once(key, now)
        return day_readout.report(read_day, key, now, self._grid, stocks, days)

    def read_kpis(self, key: str, window: str, now: datetime) -> dict:
        read_day, stocks, days = self._read_once(key, now)
        return day_readout.read_kpis(read_day, key, window, now, self._grid, stocks, days)

    def _read_once(
        self, key: str, now: datetime
    ) -> tuple[DayReader, StockReader, dict[int, DayValue]]:
        """The key's day values from the first day a report at ``now`` reads, taken with one
        range scan, and readers over them: a report reads up to ~95 days of a key, mostly
        absent, and a point read per day (a store miss for each absent one) made scrapes under
        load slow."""
        partition = self.partition_of(key)
        first = day_readout.first_day_read(now, self._grid)
        days = dict(self._engine.days(partition).days_from(key, first))

        def read_day(_key: str, day: int) -> DayValue | None:
            return days.get(day)

        def stocks(_key: str, end_hour: int) -> OpenStock:
            end_day = end_hour // HOURS_PER_DAY
            later = ((day, value) for day, value in days.items() if day >= end_day)
            total = self._engine.stocks(partition).get(key)
            return day_readout.open_stock(total, later, end_hour)

        return read_day, stocks, days

    @property
    def grid(self) -> BucketGrid:
        return self._grid

    def horizon_day(self, key: str) -> int | None:
        """The first UTC day the key's partition keeps (retention by stream time; None: no
        stream time yet): a window starting earlier is refused, not answered from a part."""
        return retained_from(self._engine, self.partition_of(key))

    def owner_url(self, key: str) -> str | None:
        """Web URL of the worker actively holding the key's partition (group assignment)."""
        partition = self.partition_of(key)
        for url, partitions in introspect.partitions_by_worker(self._app, self._topic).items():
            if partition in partitions:
                return url
        return None

    def peer_urls(self) -> list[str]:
        """Web URLs of the other workers of the group (from the shared assignment)."""
        mine = self.my_url()
        urls = introspect.partitions_by_worker(self._app, self._topic)
        return sorted(url for url in urls if url != mine)

    def my_url(self) -> str:
        return introspect.own_url(self._app)
