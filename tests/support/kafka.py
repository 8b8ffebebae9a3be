"""Small real-Kafka helpers for tests: run the broker scripts, create a prefix's topics, read a
topic back, produce raw."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from events.kafka_admin import ensure_topics
from events.topics import TopicNames
from tests.support.polling import poll_async


def run_broker_script(
    script: Path, args: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``kafka.sh`` or ``cluster.sh`` with ``args`` and extra ``env``; output captured."""
    return subprocess.run(
        [str(script), *args],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


async def create_event_topics(
    bootstrap: str,
    prefix: str,
    partitions: int = 4,
    client_options: Mapping[str, Any] | None = None,
) -> TopicNames:
    """``client_options``: ``kafka_client_options(settings)`` for a broker that authenticates."""
    names = TopicNames(prefix)
    await ensure_topics(
        [bootstrap],
        names.event_topics,
        names.dead_letters,
        partitions,
        1,
        client_options=client_options,
    )
    return names


async def read_topic(
    bootstrap: str,
    topic: str,
    expect: int | None = None,
    timeout_s: float = 20.0,
    client_options: Mapping[str, Any] | None = None,
) -> list[Record]:
    """Every record of ``topic`` from the start: until ``expect`` are read, or quiet for a while."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        **(client_options or {}),
    )
    await consumer.start()
    reading = _Reading(consumer, expect)
    try:
        await poll_async(reading.more, timeout_s, 0)  # getmany itself waits between asks
    finally:
        await consumer.stop()
    return reading.records


@dataclass
class _Reading:
    """A topic read back until ``expect`` records are in, or (no ``expect``) until it has been
    quiet for ``QUIET_S``: what ``read_topic`` polls."""

    consumer: AIOKafkaConsumer
    expect: int | None
    records: list[Record] = field(default_factory=list)
    last_read: float = field(default_factory=time.monotonic)

    QUIET_S: ClassVar[float] = 3

    async def more(self) -> bool:
        """Read what arrived; True once the reading is complete."""
        batch = await self.consumer.getmany(timeout_ms=300)
        for messages in batch.values():
            self.records += [record_of(m) for m in messages]
            self.last_read = time.monotonic()
        if self.expect is not None:
            return len(self.records) >= self.expect
        return time.monotonic() - self.last_read > self.QUIET_S


def record_of(m) -> Record:
    """A consumed message as a ``Record``."""
    return Record(m.topic, m.partition, m.offset, m.key, m.value, dict(m.headers or ()))


async def produce_raw(
    bootstrap: str, messages: list[tuple[str, bytes | None, bytes | None]]
) -> None:
    """(topic, key, value) in order, acknowledged by the broker."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@asynccontextmanager
async def kafka_admin(bootstrap: str, **options: Any) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client of ``bootstrap`` (``options`` as the client takes them), closed
    on the way out."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def topics_under(bootstrap: str, prefix: str) -> dict[str, dict[str, str]]:
    """Every topic whose name starts with ``prefix``, with the configuration set on the topic
    itself (not the broker's defaults)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a topic's own (dynamic) setting
    async with kafka_admin(bootstrap) as admin:
        names = sorted(name for name in await admin.list_topics() if name.startswith(prefix))
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        configs: dict[str, dict[str, str]] = {name: {} for name in names}
        for response in await admin.describe_configs(resources):
            for _, _, _, name, entries in response.resources:
                configs[name] = {
                    key: value for key, value, _, source, *_ in entries if source == TOPIC_CONFIG
                }
        return configs


_PREFIXES_HANDED_OUT: set[str] = set()
"""Every topic prefix ``new_topic_prefix`` gave this test session (``delete_topics_of_session``)."""


def new_topic_prefix(name: str) -> str:
    """A topic-name prefix of its own, ``t-<name>-<uuid8>.``, remembered so that the session can
    delete what was created under it from a shared broker."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower())[:48].strip("-")
    prefix = f"t-{slug}-{uuid.uuid4().hex[:8]}."
    _PREFIXES_HANDED_OUT.add(prefix)
    return prefix


async def delete_topics_of_session(bootstrap: str) -> int:
    """Delete the topics under every prefix this session handed out (a developer's broker,
    ``SALESPULSE_TEST_KAFKA_BOOTSTRAP``, would otherwise gather thousands of test topics, each
    a few open files, until it runs out); another session's topics are left alone. Returns how
    many went."""
    prefixes = tuple(_PREFIXES_HANDED_OUT)
    if not prefixes:
        return 0
    async with kafka_admin(bootstrap, request_timeout_ms=30000) as admin:
        doomed = [topic for topic in await admin.list_topics() if topic.startswith(prefixes)]
        for start in range(0, len(doomed), 100):
            await admin.delete_topics(doomed[start : start + 100], timeout_ms=30000)
    return len(doomed)
