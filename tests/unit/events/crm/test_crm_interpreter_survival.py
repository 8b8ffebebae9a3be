"""The CRM interpreter survives anything, and loses no delivery to a record that is too large.

In process, with stand-ins for the consumer and the publisher: an unexpected exception while
interpreting one delivery dead-letters that delivery (re-injectable) and the next one is read;
an unexpected error of the loop restarts it, and ``/readyz`` answers 503 while it is down; a
record the topic refuses as too large costs only its own item, as a dead letter, and a dead
letter too large to store becomes a small one naming where the raw delivery is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from events.crm.deliveries import decode_delivery
from events.crm.interpretation import Context, Origin
from events.crm.interpreter import DeliveryInterpreter
from events.crm.oversize import fitting_letter
from events.ingest_api import create_ingest_app
from events.ingest_telemetry import IngestTelemetry
from events.models import EventPolicy
from events.publisher import MAX_RECORD_BYTES, Outgoing, RecordTooLarge
from events.settings import Settings
from events.topics import DLQ_REASON, DLQ_SOURCE_OFFSET, DLQ_SOURCE_PARTITION, TopicNames
from tests.support.crm import fixture_mapping, webhook_settings

NAMES = TopicNames("t.")
NOW = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)


class Publisher:
    """Stores every batch unless ``refuse(record)`` holds for one of its records: then
    ``RecordTooLarge`` for the first such record and nothing of the batch is stored."""

    def __init__(self, refuse: Callable[[Outgoing], bool] = lambda record: False) -> None:
        self.refuse, self.sent = refuse, []

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        for index, record in enumerate(batch):
            if self.refuse(record):
                raise RecordTooLarge(index, "event: over the topic's max.message.bytes")
        self.sent += batch

    def on(self, topic: str) -> list[Outgoing]:
        return [record for record in self.sent if record.topic == topic]


class Exploding:
    vendor = "hubspot"

    async def fetch(self, deal_ids):
        raise TypeError("'<' not supported between instances of 'int' and 'str'")


def interpreter(publisher, sources=None, registry=None) -> DeliveryInterpreter:
    policy = EventPolicy(clock=lambda: NOW)
    context = Context(fixture_mapping(), policy, NAMES, ZoneInfo("UTC"), sources or {})
    telemetry = IngestTelemetry(registry or CollectorRegistry()).crm
    return DeliveryInterpreter(
        bootstrap_servers=["127.0.0.1:1"],
        topic=NAMES.crm_deliveries,
        group="g",
        publisher=publisher,
        context=context,
        telemetry=telemetry,
    )


def change(deal: int, name: str, value: str) -> dict:
    return {
        "eventId": deal,
        "subscriptionId": 1,
        "portalId": 62515,
        "occurredAt": 1771063200000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": deal,
        "propertyName": name,
        "propertyValue": value,
    }


def stored(items: list[dict], offset: int = 12) -> SimpleNamespace:
    value = {
        "format": 1,
        "vendor": "hubspot",
        "delivery_id": f"d-{offset}",
        "received_at": "2026-02-14T15:00:00Z",
        "headers": {"content-type": "application/json"},
        "body": orjson.dumps(items).decode(),
    }
    return SimpleNamespace(
        topic=NAMES.crm_deliveries, partition=3, offset=offset, key=b"hubspot",
        value=orjson.dumps(value),
    )  # fmt: skip


def counted(registry: CollectorRegistry, reason: str) -> float | None:
    return registry.get_sample_value(
        "salespulse_ingest_crm_dead_letters_total", {"vendor": "hubspot", "reason": reason}
    )


async def test_an_unexpected_exception_dead_letters_that_delivery_and_the_next_one_is_read():
    publisher, registry = Publisher(), CollectorRegistry()
    worker = interpreter(publisher, {"hubspot": Exploding()}, registry)
    broken = stored([change(9001, "dealstage", "closedwon")], offset=12)

    await worker._until_done(broken)
    worker._context = Context(fixture_mapping(), EventPolicy(), NAMES, ZoneInfo("UTC"), {})
    await worker._until_done(stored([change(9002, "dealstage", "closedwon")], offset=13))

    [letter] = publisher.on(NAMES.dead_letters)
    assert letter.value == broken.value  # the stored record itself: re-injectable as it is
    headers = dict(letter.headers)
    assert headers[DLQ_REASON].decode().startswith("unexpected: TypeError: '<' not supported")
    assert (headers[DLQ_SOURCE_PARTITION], headers[DLQ_SOURCE_OFFSET]) == (b"3", b"12")
    [won] = publisher.on(NAMES.deal_events)
    assert orjson.loads(won.value)["deal_id"] == "hubspot-9002"
    assert counted(registry, "unexpected") == 1


class FailingConsumer:
    async def start(self) -> None:
        raise RuntimeError("consumer exploded")

    async def stop(self) -> None:
        return None


class IdleConsumer:
    def __init__(self) -> None:
        self.reading = asyncio.Event()

    async def start(self) -> None:
        return None

    async def getmany(self, **_) -> dict:
        self.reading.set()
        await asyncio.Event().wait()  # nothing to read, until stopped
        return {}

    def assignment(self) -> set:
        return set()

    async def stop(self) -> None:
        return None


async def test_the_loop_restarts_after_an_unexpected_error_and_says_it_is_down_meanwhile():
    worker = interpreter(Publisher())
    idle = IdleConsumer()
    consumers = iter([FailingConsumer(), idle])
    worker._new_consumer = lambda: next(consumers)
    while_down: list[dict] = []

    async def pause(_: float) -> None:
        while_down.append(worker.health())

    worker._sleep = pause
    worker.start()
    try:
        await asyncio.wait_for(idle.reading.wait(), 10)
        assert worker.health()["running"] is True
    finally:
        await worker.stop()
    [down] = while_down
    assert down["running"] is False
    assert "RuntimeError: consumer exploded" in down["last_error"]


class StoppedCrm:
    def health(self) -> dict:
        return {"running": False, "pending": None, "last_error": "unexpected error: boom"}


class Ready:
    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def test_readyz_answers_503_with_the_reason_while_the_interpreter_is_not_running():
    app = create_ingest_app(Settings(**webhook_settings()), publisher=Ready())
    app.state.crm = StoppedCrm()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert "unexpected error: boom" in answer.json()["reason"]
    assert answer.json()["crm"]["running"] is False


def refusing_deal(deal: bytes, topics: set[str]) -> Callable[[Outgoing], bool]:
    """A topic whose limit only the records naming ``deal`` on ``topics`` exceed."""
    return lambda record: record.topic in topics and deal in record.value


@pytest.mark.parametrize("letter_fits", [True, False], ids=["letter-fits", "letter-too-large"])
async def test_an_item_too_large_for_its_topic_costs_only_that_item_as_a_dead_letter(letter_fits):
    topics = {NAMES.deal_events} | (set() if letter_fits else {NAMES.dead_letters})
    publisher, registry = Publisher(refusing_deal(b"9002", topics)), CollectorRegistry()
    worker = interpreter(publisher, registry=registry)
    delivery = stored([change(9001, "dealstage", "closedwon"), change(9002, "amount", "5")])

    await worker._until_done(delivery)

    [won] = publisher.on(NAMES.deal_events)
    assert orjson.loads(won.value)["deal_id"] == "hubspot-9001"
    [letter] = publisher.on(NAMES.dead_letters)
    headers = dict(letter.headers)
    assert headers[DLQ_REASON].decode().startswith("too_large: ")
    assert (headers[DLQ_SOURCE_PARTITION], headers[DLQ_SOURCE_OFFSET]) == (b"3", b"12")
    if letter_fits:
        assert orjson.loads(decode_delivery(letter.value).body) == [change(9002, "amount", "5")]
    else:
        assert orjson.loads(letter.value) == {
            "too_large": True,
            "topic": NAMES.crm_deliveries,
            "partition": 3,
            "offset": 12,
        }
    assert counted(registry, "too_large") == 1


def test_a_dead_letter_over_the_record_limit_becomes_a_small_one_with_the_deliverys_coordinates():
    huge = Outgoing("", "salesforce", b"x" * (MAX_RECORD_BYTES + 1))
    origin = Origin(NAMES.crm_deliveries, 1, 99)

    letter = fitting_letter(huge, "currency: no rate for XYZ", origin, NAMES.dead_letters)

    assert orjson.loads(letter.value) == {
        "too_large": True,
        "topic": NAMES.crm_deliveries,
        "partition": 1,
        "offset": 99,
    }
    reason = dict(letter.headers)[DLQ_REASON].decode()
    assert reason.startswith("too_large: currency: no rate for XYZ")
    assert f"{NAMES.crm_deliveries}/1/99" in reason
    assert (letter.topic, letter.key) == (NAMES.dead_letters, "salesforce")
