"""Watching a stack from outside: is it quiet, who owns what, what it exports, what it replayed.

"Quiet" is read from Kafka, not from the worker: the consumer group has committed the end offset of
every topic its agents read (the three event topics, customer-wins, kpi-deltas), several checks in
a row. A worker commits an offset only after folding what precedes it, so quiet means processed.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from events.kafka_admin import uncommitted_per_topic
from events.settings import Settings
from events.topics import TopicNames
from streams.catch_up import group_topics
from tests.chaos.feed import Feeder
from tests.support.kafka import Record, read_topic
from tests.support.polling import poll
from tests.support.stack import Service, Stack

# --- quiet -------------------------------------------------------------------------------------


def workers_of(prefix: str) -> Settings:
    """The settings the stack's workers run with, as far as topic and group names go."""
    return Settings(_env_file=None, topic_prefix=prefix)


async def backlog(bootstrap: str, prefix: str, partitions: int) -> dict[str, int]:
    """Per topic: messages past the worker group's committed offsets (0 everywhere = quiet)."""
    settings = workers_of(prefix)
    group, topics = settings.app_id, group_topics(settings)
    tps = [TopicPartition(topic, p) for topic in topics for p in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await consumer.start()
    try:
        await admin.start()
        try:
            ends = await consumer.end_offsets(tps)
            committed = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
    finally:
        await consumer.stop()
    return {**dict.fromkeys(topics, 0), **uncommitted_per_topic(tps, ends, committed)}


@dataclass
class Settled:
    quiet: bool
    seconds: float
    backlog: dict[str, int]
    owners: dict[str, list[int]]
    """Per live worker URL, the partitions it owns at the end (from /readyz)."""

    def describe(self) -> str:
        if self.quiet:
            return f"quiet after {self.seconds:.1f}s, partitions owned {self.owners}"
        left = {".".join(t.split(".")[-2:]): n for t, n in self.backlog.items() if n}
        return (
            f"not quiet within {self.seconds:.0f}s: messages read but not committed (or not read) "
            f"by the worker group {left or self.backlog}; partitions owned {self.owners}. "
            "A consumer stalled or fell behind."
        )


def settle(stack: Stack, timeout_s: float, stable_checks: int = 3) -> Settled:
    """Wait until the group is quiet and the live workers together own every partition, ready.

    Broker hiccups and rebalances count as "not yet"; gives up after ``timeout_s``.
    """
    started = time.monotonic()
    streak = 0

    def check() -> Settled:
        nonlocal streak
        owners = owned_partitions(w.url for w in stack.live_workers)
        last, fine = _backlog_now(stack)
        everything_owned = sorted(p for ps in owners.values() for p in ps) == list(
            range(stack.partitions)
        )
        streak = streak + 1 if fine and everything_owned else 0
        return Settled(streak >= stable_checks, time.monotonic() - started, last, owners)

    return poll(check, timeout_s, 1, until=lambda settled: settled.quiet)


def _backlog_now(stack: Stack) -> tuple[dict, bool]:
    """(backlog, whether it is empty); an error reading it (a broker restarting) is "not yet"."""
    try:
        last = asyncio.run(backlog(stack.bootstrap, stack.prefix, stack.partitions))
    except Exception as exc:  # noqa: BLE001 - e.g. a broker restarting: keep polling
        return {"error": repr(exc)}, False
    return last, not any(last.values())


def owned_partitions(urls: Iterable[str]) -> dict[str, list[int]]:
    """Partitions each worker owns now; a worker not ready (503) or unreachable owns none."""
    owners = {}
    for url in urls:
        try:
            answer = httpx.get(f"{url}/readyz", timeout=3)
            owners[url] = answer.json().get("partitions", []) if answer.status_code == 200 else []
        except (httpx.TransportError, ValueError):
            owners[url] = []
    return owners


def wait_dead(worker: Service, timeout_s: float) -> int | None:
    """The worker process's exit status once it ended, or None if it still runs."""
    try:
        return worker.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return None


@dataclass
class KilledMidStream:
    """A worker that killed itself at a fault point while a stream was being fed."""

    worker: Service
    feeder: Feeder
    """Still feeding: ``finish`` it once the successor owns the partitions."""
    started: float
    """``time.monotonic()`` when the feed began."""
    died_at: str
    """Seconds into the feed and events accepted by then, for the verdict."""


def killed_mid_stream(
    stack: Stack, fault: str, events: list[dict], feed_s: float, die_within_s: float
) -> KilledMidStream:
    """Start a worker with ``SALESPULSE_FAULT_KILL_AT=fault``, feed ``events`` over ``feed_s``
    once it owns its partitions, and wait until the fault point killed it (SIGKILL)."""
    worker = stack.start_worker(wait=False, SALESPULSE_FAULT_KILL_AT=fault)
    assert wait_owning(worker.url, stack.partitions, 60) is not None, worker.log_tail()
    feeder = Feeder(stack.ingest.url, events, seconds=feed_s)
    started = time.monotonic()
    feeder.start()
    status = wait_dead(worker, die_within_s)
    died_at = f"{time.monotonic() - started:.1f}s/{len(feeder.log.accepted)}ev"
    assert status == -signal.SIGKILL, f"{fault}: exit status {status}\n{worker.log_tail()}"
    return KilledMidStream(worker, feeder, started, died_at)


def wait_owning(url: str, at_least: int, timeout_s: float) -> float | None:
    """Seconds until the worker at ``url`` is ready and owns ``at_least`` partitions, or None."""
    started = time.monotonic()
    owns = poll(lambda: len(owned_partitions([url])[url]) >= at_least, timeout_s, 0.2)
    return time.monotonic() - started if owns else None


# --- the log, read back ------------------------------------------------------------------------


def read_log(bootstrap: str, prefix: str) -> list[Record]:
    """Every record of the three event topics (a topic's records in offset order)."""
    records: list[Record] = []
    for topic in TopicNames(prefix).event_topics:
        records += asyncio.run(read_topic(bootstrap, topic, timeout_s=60))
    return records


# --- metrics -----------------------------------------------------------------------------------


def metric_total(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=15).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


# --- state resumption, from the worker's log ---------------------------------------------------

_RESUME_LINE = re.compile(
    r"state resume: (\d+) input partitions, (\d+) from a checkpoint, replaying (\d+) of (\d+) "
    r"committed"
)


@dataclass
class Replay:
    """Input records a worker read again after its checkpoints during one start."""

    replayed: int
    committed: int
    """Records below the group's committed offsets (what a replay of everything reads)."""
    recoveries: int


def replay_since(log_path: Path, offset: int) -> Replay:
    """Sum the state engine's resume lines (``streams.state.engine``) logged after byte
    ``offset`` of a worker's log: records between each checkpoint and the group's offset."""
    text = log_path.read_bytes()[offset:].decode(errors="replace")
    replayed = committed = recoveries = 0
    for match in _RESUME_LINE.finditer(text):
        recoveries += 1
        replayed += int(match.group(3))
        committed += int(match.group(4))
    return Replay(replayed, committed, recoveries)
