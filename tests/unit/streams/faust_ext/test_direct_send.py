"""``DirectSender``: ready bytes to the app's producer as ``Topic.send`` would hand them over."""

import asyncio
import logging
from types import SimpleNamespace

import pytest

from streams.faust_ext.direct_send import DirectSender


class Producer:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls, self.error = [], error

    async def send(self, topic, key, value, partition, timestamp, headers):
        self.calls.append((topic, key, value, partition, timestamp, headers))
        delivery = asyncio.get_running_loop().create_future()
        if self.error:
            delivery.set_exception(self.error)
        else:
            delivery.set_result(None)
        return delivery


def sender_to(producer: Producer) -> DirectSender:
    async def maybe_start_producer():
        return producer

    app = SimpleNamespace(maybe_start_producer=maybe_start_producer)
    return DirectSender(SimpleNamespace(app=app, get_topic_name=lambda: "acme.kpi-deltas"))


@pytest.mark.parametrize(("key", "partition"), [(b"company|", 3), (b"cust-1", None), (None, 0)])
async def test_a_record_reaches_the_producer_with_its_key_value_and_partition_unchanged(
    key, partition
):
    producer = Producer()
    await sender_to(producer).send(key, b"[1]", partition)
    assert producer.calls == [("acme.kpi-deltas", key, b"[1]", partition, None, None)]


async def test_a_failed_delivery_is_logged_with_its_topic(caplog):
    producer = Producer(error=RuntimeError("broker gone"))
    with caplog.at_level(logging.WARNING, logger="streams.faust_ext.direct_send"):
        await sender_to(producer).send(b"k", b"[1]", 0)
        await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert "send to acme.kpi-deltas failed" in caplog.text
    assert "broker gone" in caplog.text
