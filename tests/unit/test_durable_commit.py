"""Before a commit, every table write queued so far has reached the Kafka client."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from types import SimpleNamespace

import pytest
from faust.transport.producer import ProducerBuffer

from streams.durable_commit import DrainingProducerBuffer, SalespulseApp


class SlowKafkaClient:
    """Accepts one message per ``delay_s``, as a client applying backpressure does."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.accepted: list[int] = []

    async def publish_message(self, fut, wait: bool = False) -> None:
        await asyncio.sleep(self.delay_s)
        self.accepted.append(fut.number)


def queued_write(client: SlowKafkaClient, number: int) -> SimpleNamespace:
    return SimpleNamespace(number=number, message=SimpleNamespace(channel=client))


async def flush_with_writes_queued(buffer_class, writes: int, delay_s: float) -> list[int]:
    client = SlowKafkaClient(delay_s)
    buffer = buffer_class(loop=asyncio.get_running_loop())
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        for number in range(writes):
            buffer.put(queued_write(client, number))
        await buffer.flush()
        return list(client.accepted)
    finally:
        with suppress(RuntimeError):  # Faust's buffer refuses to stop with writes queued
            await buffer.stop()


@pytest.mark.parametrize(("writes", "delay_s"), [(1, 0.0), (5, 0.0), (3, 0.25), (6, 0.12)])
def test_flush_returns_only_once_every_queued_write_reached_the_client(writes, delay_s):
    accepted = asyncio.run(flush_with_writes_queued(DrainingProducerBuffer, writes, delay_s))
    assert accepted == list(range(writes))


def test_fausts_own_flush_gives_up_while_the_client_applies_backpressure():
    # Why DrainingProducerBuffer exists: with faust-streaming 0.15 a commit could go ahead with
    # table writes still queued. Should this start to fail, Faust fixed it upstream.
    accepted = asyncio.run(flush_with_writes_queued(ProducerBuffer, 3, 0.25))
    assert len(accepted) < 3


def test_the_app_producer_uses_the_draining_buffer():
    app = SalespulseApp("t-durable-commit", broker="kafka://127.0.0.1:1")
    assert isinstance(app.producer.buffer, DrainingProducerBuffer)
    assert app.producer.buffer.app is app
