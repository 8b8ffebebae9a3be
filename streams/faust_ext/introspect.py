"""What a running worker reads of its Faust app's group state: rebalances, the assignment, peers.

Faust keeps these on its app, table manager, assignor, router and monitor, outside its documented
API (``hooks.APP_INTERNALS``). Ownership, readiness and the operational metrics ask here, at
request or scrape time, so they are never stale and a Faust upgrade is checked in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple


def rebalance_count(app: Any) -> int:
    """Rebalances seen since start: after any of them a partition may come back replayed."""
    return int(getattr(app, "rebalancing_count", 0))


def is_settled(app: Any) -> bool:
    """No rebalance under way, and Faust has resumed its active partitions after the last one
    (rebalance protocol, step 6)."""
    return not app.rebalancing and bool(app.tables.actives_ready)


def assigned_partitions(app: Any, topic: str) -> set[int]:
    """Partitions of ``topic`` this worker actively holds (no standby exists)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def partitions_by_worker(app: Any, topic: str) -> dict[str, set[int]]:
    """Each group member's web URL and the partitions of ``topic`` it actively holds, from the
    assignment the members share (its URLs are whatever each member advertised)."""
    metadata = app.router.external_topics_metadata()
    return {str(url): set(topics.get(topic, ())) for url, topics in metadata.items()}


def own_url(app: Any) -> str:
    """The web URL this worker advertises to the group (``canonical_url``)."""
    return str(app.conf.canonical_url)


class PartitionLag(NamedTuple):
    topic: str
    partition: int
    behind: int


def consumer_lag(app: Any) -> Iterator[PartitionLag]:
    """Records not yet read on each partition this worker holds whose end offset Faust's monitor
    knows, in partition order (nothing before the monitor's first sample)."""
    monitor = getattr(app, "monitor", None)
    if monitor is None or monitor.tp_end_offsets is None:
        return
    read = monitor.tp_read_offsets or {}
    for tp in sorted(app.assignor.assigned_actives()):
        end = monitor.tp_end_offsets.get(tp)
        if end is not None:
            yield PartitionLag(tp.topic, tp.partition, max(0, end - (read.get(tp, -1) + 1)))
