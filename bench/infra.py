"""What every benchmark needs: its own broker, topics, a fast producer, lag, worker processes.

The broker is the project's own ``deploy/kafka/kafka.sh`` on a port of the benchmarks' own
(``BENCH_KAFKA_PORT``, default 58092), so ``make bench`` never meets the dev broker (9092) or the
test broker (19092). Workers are the real ``salespulse worker`` console script, spawned through
``tests.support.stack.Stack`` exactly as the end-to-end tests do.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from events.kafka_admin import ensure_topics, uncommitted_per_topic
from events.settings import Settings
from events.topics import TopicNames
from streams.catch_up import group_topics
from tests.support.polling import await_until
from tests.support.stack import Service, Stack

REPO = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
WORKDIR = REPO / ".local" / "bench"
PARTITIONS = 8
"""The product's default partition count (``Settings.partitions``)."""


def broker_env() -> dict[str, str]:
    port = int(os.environ.get("BENCH_KAFKA_PORT", "58092"))
    return {
        **os.environ,
        "KAFKA_HOST": "127.0.0.1",
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(port + 1),
        "KAFKA_STATE_DIR": os.environ.get("BENCH_KAFKA_STATE_DIR", str(WORKDIR / "kafka")),
    }


@contextmanager
def own_broker(external: str | None):
    """Yield a bootstrap address: ``external`` as is, or a fresh broker stopped at the end."""
    if external:
        yield external
        return
    env = broker_env()
    subprocess.run([str(KAFKA_SH), "clean"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(KAFKA_SH), "start"], env=env, check=True)
    try:
        yield f"{env['KAFKA_HOST']}:{env['KAFKA_PORT']}"
    finally:
        subprocess.run([str(KAFKA_SH), "stop"], env=env, check=False)


def new_prefix(name: str) -> str:
    return f"bench-{name}-{uuid.uuid4().hex[:6]}."


def run_dir(prefix: str) -> Path:
    path = WORKDIR / "runs" / prefix.rstrip(".")
    path.mkdir(parents=True, exist_ok=True)
    return path


async def create_topics(bootstrap: str, prefix: str) -> TopicNames:
    """The event-log topics, and the worker's internal topics too: a worker that creates those
    itself at start sometimes logs "Ignoring missing topic" and is never assigned them (seen
    with ``make bench``: /readyz then never lists a partition); see docs/BENCHMARKS.md."""
    names = TopicNames(prefix)
    internal = tuple(worker_topics(prefix)[3:])
    await ensure_topics(
        [bootstrap], names.event_topics, names.dead_letters, PARTITIONS, 1, internal_topics=internal
    )
    return names


async def create_compacted(bootstrap: str, topics: Sequence[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"cleanup.policy": "compact"}
        wanted = [NewTopic(topic, PARTITIONS, 1, topic_configs=config) for topic in topics]
        await admin.create_topics(wanted)
    finally:
        await admin.close()


async def produce(bootstrap: str, messages: Iterable[tuple[str, bytes, bytes]]) -> int:
    """Send (topic, key, value) as fast as aiokafka goes, all acknowledged; returns the count."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=20, max_batch_size=1024 * 1024
    )
    await producer.start()
    sent, pending = 0, []
    try:
        for topic, key, value in messages:
            pending.append(await producer.send(topic, value, key=key))
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def encoded(events: Sequence[dict], names: TopicNames, route) -> list[tuple[str, bytes, bytes]]:
    out = []
    for event in events:
        topic, key = route(event, names)
        out.append((topic, key.encode(), orjson.dumps(event)))
    return out


class LagProbe:
    """Committed-offset lag of one consumer group over whole topics (every partition)."""

    def __init__(
        self, bootstrap: str, group: str, topics: Sequence[str], watch: Sequence[str] = ()
    ) -> None:
        """``watch``: topics whose summed lag each look also records in ``backlog``, as
        (monotonic time, records left), for ``bench.stats.middle_rate``."""
        self.group, self.topics = group, list(topics)
        self.watch = set(watch)
        self.backlog: list[tuple[float, int]] = []
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)

    async def __aenter__(self) -> LagProbe:
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def lag(self) -> int:
        cluster = await self.consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        ends = await self.consumer.end_offsets(tps)
        committed = await self.admin.list_consumer_group_offsets(self.group)
        per_topic = uncommitted_per_topic(tps, ends, committed)
        if self.watch:
            left = sum(n for topic, n in per_topic.items() if topic in self.watch)
            self.backlog.append((time.monotonic(), left))
        return sum(per_topic.values())

    async def wait_zero(
        self, timeout_s: float, every_s: float = 0.25, quiet_s: float = 1.0
    ) -> float:
        """Monotonic time lag was first seen at zero and stayed zero for ``quiet_s``."""
        zero_since: float | None = None

        async def look() -> LagSeen:
            nonlocal zero_since
            lag = await self.lag()
            now = time.monotonic()
            if lag:
                zero_since = None
                return LagSeen(lag, None)
            zero_since = zero_since or now
            return LagSeen(0, zero_since if now - zero_since >= quiet_s else None)

        seen = await await_until(
            look,
            timeout_s,
            every_s,
            f"group {self.group} without lag for {quiet_s}s",
            until=lambda seen: seen.quiet_since is not None,
        )
        return seen.quiet_since


class LagSeen(NamedTuple):
    """One look at a group's lag; ``quiet_since`` once it has been zero long enough."""

    lag: int
    quiet_since: float | None


async def records_written(bootstrap: str, prefix: str, inputs: Sequence[str]) -> dict[str, int]:
    """Records on every topic under ``prefix`` but ``inputs``: what the workers produced
    (internal topics, dead letters, any changelog), from the end offsets of their
    ``PARTITIONS`` partitions (every bench topic has as many)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(prefix) and t not in inputs]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for topic in topics for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    written = dict.fromkeys(topics, 0)
    for tp, end in ends.items():
        written[tp.topic] += end
    return written


def worker_topics(prefix: str) -> list[str]:
    """Everything a salespulse worker's consumer group reads: input and internal topics."""
    return group_topics(Settings(_env_file=None, topic_prefix=prefix))


def worker_group(prefix: str) -> str:
    return f"{prefix}salespulse"


def stack(bootstrap: str, prefix: str, **env: str) -> Stack:
    """A Stack running workers with the product's defaults (the tests shorten batch_within_s)."""
    return Stack(
        bootstrap,
        prefix,
        run_dir(prefix),
        partitions=PARTITIONS,
        extra_env={"SALESPULSE_BATCH_WITHIN_S": "0.2", "SALESPULSE_LOG_LEVEL": "WARNING", **env},
    )


async def wait_assigned(services: Sequence[Service], timeout_s: float = 120) -> float:
    """Monotonic time all ``services`` answer /readyz with every partition assigned among them."""
    async with httpx.AsyncClient(timeout=2) as client:
        return await await_until(
            lambda: _all_assigned_at(client, services),
            timeout_s,
            0.05,
            "workers ready with all partitions assigned",
            until=lambda at: at is not None,
        )


async def _all_assigned_at(client: httpx.AsyncClient, services: Sequence[Service]) -> float | None:
    """Now (monotonic), if every service is ready and together they own every partition."""
    owned: set[int] = set()
    ready = 0
    for service in services:
        if not service.alive:
            raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
        try:  # a busy worker answers late: its loop folds batches
            answer = await client.get(f"{service.url}/readyz", timeout=30)
        except httpx.TransportError:
            continue
        if answer.status_code == 200 and answer.json().get("partitions"):
            ready += 1
            owned |= set(answer.json()["partitions"])
    return time.monotonic() if ready == len(services) and len(owned) == PARTITIONS else None


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user + system, all its threads), from /proc: unlike
    wall time it leaves out waits and the broker's share of the CPUs, though it still moves
    with the box's speed (docs/BENCHMARKS.md)."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))


def cpu_seconds_of(stat: str, ticks_per_second: int) -> float:
    """``utime + stime`` of a ``/proc/<pid>/stat`` line. The command name (field 2) may hold
    spaces and parentheses, so the fields are counted from its closing one."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


def disk_bytes(path: Path) -> int:
    """What ``du`` counts under ``path``: allocated blocks of every file (0 if it is missing).
    RocksDB's state on disk is what a worker's data dir holds, SST files and WAL alike."""
    if not path.exists():
        return 0
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())
