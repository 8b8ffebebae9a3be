"""Settings group: how a worker folds, stays in its consumer group, and talks to Kafka.

These trade failover time against needless rebalances and throughput against latency; the
defaults and their measurements are in docs/BENCHMARKS.md. The group timeouts are checked
together at start, since the broker would only refuse them at the first join.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

FAULT_POINTS = ("before-checkpoint-write", "after-checkpoint-write", "in-spill", "in-snapshot")
"""The crash points the runtime reaches (``streams/state/faults.py`` imports this list and names
each point), defined here because the events layer cannot import the runtime; a unit test checks
that the runtime names every one."""
FAULT_SETTING_PATTERN = rf"^((?P<point>{'|'.join(FAULT_POINTS)}):(?P<at>[1-9][0-9]{{0,8}}))?$"
"""What ``fault_kill_at`` accepts: ``<point>:<n>`` with n ≥ 1, or empty (off)."""


class WorkerRuntimeSettings(BaseModel):
    """Batching, consumer-group timeouts, producer batching, the stuck alarm, test crash points."""

    batch_max_events: int = Field(
        2000, ge=1, description="Most events an agent folds per batch (one state write per key)."
    )
    batch_within_s: float = Field(
        0.2, gt=0, description="Longest a fold agent waits to fill a batch before folding it."
    )
    apply_within_s: float = Field(
        0.05,
        gt=0,
        description="Longest the apply agent waits to fill a batch of kpi-deltas messages. Each "
        "message already carries a fold batch's corrections for its partition, so waiting adds "
        "latency (freshness) more than it saves work; under a backlog batches fill at once.",
    )
    apply_engine: Literal["auto", "native", "python"] = Field(
        "auto",
        description="How the apply agent applies kpi-deltas: 'native' through the compiled core "
        "(native/, built by make install; the worker refuses to start without it), 'python' "
        "interpreted, 'auto' the compiled core when installed, else interpreted (logged). Both "
        "give the same state; the compiled one applies ~3x faster (docs/BENCHMARKS.md).",
    )
    worker_gc_young_threshold: int = Field(
        50_000,
        ge=0,
        description="Container allocations between two young garbage collections of a worker "
        "(CPython's default is 700); objects built at start-up are frozen out of collection. "
        "With the default, the collector took ~13 % of a backfill's main thread; with this, "
        "~1 % (docs/BENCHMARKS.md). 0: CPython's defaults.",
    )
    worker_session_timeout_s: float = Field(
        10.0,
        ge=6,
        le=300,
        description="How long the consumer group waits for a silent worker before moving its "
        "partitions to the others: the pause in KPI updates after a worker crash. Too low and a "
        "worker starved of CPU is dropped needlessly (Faust's default is 60 s; brokers accept "
        "6 s and more by default).",
    )
    worker_heartbeat_interval_s: float = Field(
        3.0,
        gt=0,
        description="How often a worker tells its group it is alive; at most a third of the "
        "session timeout.",
    )
    worker_request_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Deadline of one worker request to Kafka, and of the seek to each "
        "partition's checkpoint after a rebalance: a request lost to a dying broker holds a "
        "worker up this long at most (Faust's default is 90 s). At least the session timeout.",
    )
    worker_metadata_max_age_s: float = Field(
        15.0,
        gt=0,
        description="How often a worker refreshes topic metadata. A group assignment made while "
        "a topic's metadata was missing (a broker just restarted) leaves that topic's partitions "
        "to nobody until a refresh shows them and the group rebalances: this bounds that gap "
        "(Faust's default is 5 minutes).",
    )
    worker_producer_linger_s: float = Field(
        0.01,
        ge=0,
        description="How long a worker's producer waits to fill a batch of records (internal "
        "topics, dead letters) before sending it. Faust's default, 0, sends many tiny "
        "requests: 10 ms measured 1.8x the throughput (docs/BENCHMARKS.md) for at most 10 ms more "
        "per hop.",
    )
    worker_producer_batch_bytes: int = Field(
        1024 * 1024,
        ge=16 * 1024,
        description="Largest batch of records a worker's producer sends per partition at once "
        "(Faust's default is 16 KiB).",
    )
    worker_stuck_after_s: float = Field(
        180.0,
        ge=0,
        description="A worker that stays unready (rebalancing or replaying its partitions) this "
        "long without replay progress reports itself unhealthy: /healthz answers 503, so that a "
        "liveness probe restarts it (a restart is a safe replay). 0: never.",
    )
    fault_kill_at: str = Field(
        "",
        pattern=FAULT_SETTING_PATTERN,
        description="TEST ONLY (chaos scenarios 1b and 7b), never set in production: "
        "'<point>:<n>' makes a worker kill itself with SIGKILL the n-th time it reaches point: "
        "'before-checkpoint-write' (producer flushed, checkpoint batch not written), "
        "'after-checkpoint-write' (batch written, Kafka commit not made), 'in-spill' (a spill "
        "batch written, no meta) or 'in-snapshot' (a snapshot's chunks sent, not its "
        "manifest), e.g. 'after-checkpoint-write:3' (streams/state/faults.py). Empty: off.",
    )

    @model_validator(mode="after")
    def _group_timeouts_fit(self) -> WorkerRuntimeSettings:
        if self.worker_request_timeout_s < self.worker_session_timeout_s:
            raise ValueError("worker_request_timeout_s must be at least worker_session_timeout_s")
        if self.worker_heartbeat_interval_s * 3 > self.worker_session_timeout_s:
            raise ValueError(
                "worker_heartbeat_interval_s must be at most a third of worker_session_timeout_s"
            )
        return self
