"""A ``streams.pipeline.Pipeline`` without Faust: fake producer, topics and plain dict tables.

Why shared: the kpi-deltas and customer-wins tests both drive the pipeline's handlers and look at
what they sent straight to the producer (``streams.direct_send``) and what they dead-lettered.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from events.models import EventPolicy
from events.topics import TopicNames
from projections.timebase import BucketGrid
from streams.pipeline import Pipeline

GRID = BucketGrid("UTC")


class FakeBuffer:
    """Faust's table-write buffer: ``sizes`` are what ``size`` answers, one after the other."""

    max_messages = 100

    def __init__(self, *sizes: int) -> None:
        self.sizes, self.message_sent = list(sizes), asyncio.Event()
        self.message_sent.set()

    @property
    def size(self) -> int:
        return self.sizes.pop(0) if self.sizes else 0


class FakeProducer:
    """The app's producer: what ``DirectSender`` hands it, per topic name."""

    def __init__(self) -> None:
        self.buffer, self.sent = FakeBuffer(), {}

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.sent.setdefault(topic, []).append(dict(key=key, value=value, partition=partition))
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


class FakeTopic:
    """A Faust topic of one app: ``send`` records Faust-path sends (dead letters)."""

    def __init__(self, app, name: str, partitions: int = 8) -> None:
        self.app, self.name, self.partitions, self.sent = app, name, partitions, []

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, **message) -> None:
        self.sent.append(message)

    @property
    def direct(self) -> list[dict]:
        """What was sent past ``Topic.send``, straight to the producer."""
        return self.app.producer.sent.get(self.name, [])


def pipeline(partitions: int = 8) -> Pipeline:
    """A pipeline whose topics have ``partitions`` partitions and whose tables are dicts."""
    producer = FakeProducer()

    async def maybe_start_producer():
        return producer

    app = SimpleNamespace(producer=producer, maybe_start_producer=maybe_start_producer)
    names = ("kpi_deltas", "customer_wins", "dead_letters")
    topics = SimpleNamespace(**{name: FakeTopic(app, name, partitions) for name in names})
    tables = SimpleNamespace(buckets={}, live_keys={}, deals={}, customers={}, seen={})
    telemetry = SimpleNamespace(
        dead_lettered=lambda topic, reason: None,
        event_processed=lambda topic, kind, at: None,
    )
    return Pipeline(
        names=TopicNames(""),
        topics=topics,
        tables=tables,
        grid=GRID,
        policy=EventPolicy(),
        telemetry=telemetry,
    )


def record(topic: str, value: bytes | None, partition: int, offset: int, key: bytes = b"k"):
    """An event of a Faust stream as the agents read it: ``event.message`` is the record."""
    message = SimpleNamespace(topic=topic, partition=partition, offset=offset, key=key, value=value)
    return SimpleNamespace(message=message)
