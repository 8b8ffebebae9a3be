"""Settings groups: a worker's KPI state, where it is kept and how much history it holds.

Two groups, because the fields list them apart: the store (directory, backend, generation,
readiness after a rebuild) and the history (retention horizon, snapshots on the state topic).
Both decide what a worker restart or a partition move costs (docs/OPERATIONS.md).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class StateStoreSettings(BaseModel):
    """The state store and directory, the state generation, and readiness after a rebuild."""

    data_dir: Path = Field(
        Path(".local/state/worker-0"),
        description="Directory for a worker's local state (its RocksDB under 'state-v2').",
    )
    table_store: str = Field(
        "memory://",
        pattern=r"^(rocksdb|memory)://$",
        description="The worker's state store: 'rocksdb://' (kept in data_dir; a restart resumes "
        "from the last checkpoint) or 'memory://' (the state directory is wiped at each start, "
        "so every start rebuilds its partitions by replaying their logs).",
    )
    table_generation: str = Field(
        "",
        pattern=r"^[a-z0-9-]{0,32}$",
        description="Generation of the worker's state: a non-empty value (e.g. 'g2') gives the "
        "workers their own consumer group, internal topics and local state directory "
        "('<prefix>salespulse.g2'), so they fold the whole log from the start into fresh state "
        "beside the running generation (a rebuild: docs/OPERATIONS.md). Empty: the original "
        "generation.",
    )
    state_memory_mb: int = Field(
        256,
        ge=4,
        le=65_536,
        description="Memory the worker's state store may use for its caches and buffers, split "
        "in four equal parts: RocksDB's block cache, its memtables, the LRU of clean values, "
        "and the values changed since the last checkpoint. Each fills up on a big tenant, so "
        "together they are most of a worker's memory above its idle size; lower it on small "
        "hosts (fewer cache hits, more reads from RocksDB), raise it for many hot keys.",
    )
    ready_after_catch_up: bool = Field(
        False,
        description="When true, a worker is not ready (/readyz 503, no KPI series, /v1/kpis 503) "
        "until its consumer group has caught up with the whole log once: for the workers of a new "
        "table_generation, so that a rebuild never serves half-built numbers "
        "(streams/catch_up.py).",
    )


class StateHistorySettings(BaseModel):
    """How many days the state keeps, and the snapshots that spare a full replay."""

    retention_days: int = Field(
        100,
        ge=100,
        description="How many days of event time the KPI state keeps, measured back from stream "
        "time (the latest occurred_at a partition has seen), never from the wall clock "
        "(contract section 3). Day values of older UTC days and the call and cost ids first "
        "seen on them are deleted; open-deal stocks stay exact. At least 100, which covers the "
        "longest window (qtd, 92 days). /v1/kpis answers 400 for an as_of whose window starts "
        "before the horizon. Raise it to read older as_of windows (replays of long histories).",
    )
    closed_deal_memory_days: int = Field(
        400,
        ge=100,
        description="How many days of event time a closed (won or lost) deal is kept after its "
        "latest event, measured back from stream time like retention_days (a lower value "
        "counts as retention_days). Until then a reopen, re-assignment or late change of the "
        "deal is restated exactly; after it the deal is forgotten, so the state stays bounded "
        "by the deals closed in this many days: an event for a forgotten deal starts a new "
        "deal from that event alone (docs/GUARANTEES.md). Open deals are never forgotten.",
    )
    snapshot_interval_s: float = Field(
        60.0,
        ge=0,
        description="How often at most a worker writes the snapshot of a partition that changed "
        "to the state topic (<app id>.state, compacted), right after a checkpoint. A worker "
        "that takes a partition over without a local checkpoint of it (a fresh host, an empty "
        "data dir, memory://) restores the latest complete snapshot and replays only the logs "
        "after it. 0: after every checkpoint with changes.",
    )
    snapshot_every_records: int = Field(
        5000,
        ge=0,
        description="A partition's snapshot is also written before the interval has passed once "
        "its inputs moved this many records past its last snapshot: what a worker taking it over "
        "after a crash replays, even during a backfill or a catch-up, when a minute holds far "
        "more input than it does live. 0: by the interval only.",
    )
    snapshots_enabled: bool = Field(
        True,
        description="Write and restore partition snapshots on the state topic. Off: a worker "
        "without a local checkpoint replays its partitions' logs from their start.",
    )

    @property
    def deal_memory_days(self) -> int:
        """``closed_deal_memory_days``, never below ``retention_days``: a closed deal forgotten
        before its days are pruned would leave retained windows without it."""
        return max(self.closed_deal_memory_days, self.retention_days)
