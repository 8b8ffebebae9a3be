"""Ready only after catching up with the log (``SALESPULSE_READY_AFTER_CATCH_UP``).

A worker of a new table generation (a rebuild) starts from the first offset of every topic; its
tables are "recovered" at once (empty) but its numbers are half-built until the group has read the
whole log. With the setting on, a worker is not ready (``/readyz`` 503, no KPI series on
``/metrics``, ``/v1/kpis`` 503) until its consumer group has committed every record present in the
event topics and its internal topics at some moment; from then on readiness is the usual one
(tables recovered, no rebalance). The check is group-wide, so every worker of the generation turns
ready at the same point.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from events.kafka_security import kafka_client_options
from events.settings import Settings
from events.topics import TopicNames
from streams.tools.kafka_io import KafkaToolError, group_lag

log = logging.getLogger(__name__)


def group_topics(settings: Settings) -> list[str]:
    """The topics the workers' consumer group reads: the event log and its internal topics."""
    names = TopicNames(settings.topic_prefix)
    return [*names.event_topics, *settings.internal_topics]


async def records_behind(settings: Settings) -> int:
    """Records of ``group_topics`` the workers' group has not committed yet."""
    lag = await group_lag(
        settings.bootstrap_servers,
        settings.app_id,
        group_topics(settings),
        kafka_client_options(settings),
    )
    return sum(lag.values())


class CatchUp:
    """A latch: open when not required, else once ``measure`` reports nothing behind."""

    def __init__(self, required: bool, measure: Callable[[], Awaitable[int]]) -> None:
        self.done = not required
        self._measure = measure

    async def check(self) -> bool:
        if self.done:
            return True
        try:
            behind = await self._measure()
        except KafkaToolError as exc:
            log.warning("catch-up check failed: %s", exc)
            return False
        if behind == 0:
            self.done = True
            log.info("caught up with the log: ready")
        else:
            log.info("catching up with the log: %d records behind", behind)
        return self.done
