"""Getting events onto the log the ways clients do: POST /v1/events (retrying 503s) or produced
straight onto the topics, keeping track of exactly what was acknowledged."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer

from tests.support.polling import poll


class UnexpectedAnswer(AssertionError):
    pass


@dataclass
class PostLog:
    """What a client saw: every answer, and the events acknowledged with 202 (in order)."""

    accepted: list[dict] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    answers: list[tuple[float, int]] = field(default_factory=list)
    """(monotonic time, HTTP status or 0 for a transport error) of every request."""
    retries: int = 0
    slowest_s: float = 0.0
    """The longest a single request took to be answered."""


def post_events(
    url: str,
    events: Sequence[dict],
    batch: int = 500,
    log: PostLog | None = None,
    retry_for_s: float = 0,
    pause_s: float = 0,
    stop: threading.Event | None = None,
) -> PostLog:
    """POST ``events`` in batches; a 503 or transport error is retried for up to ``retry_for_s``
    (a producer retrying), anything but 202/503 raises ``UnexpectedAnswer``."""
    log = log if log is not None else PostLog()
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(events), batch):
            if stop is not None and stop.is_set():
                break
            _post_until_accepted(client, list(events[start : start + batch]), log, retry_for_s)
            if pause_s:
                time.sleep(pause_s)
    return log


def _post_until_accepted(
    client: httpx.Client, chunk: list[dict], log: PostLog, retry_for_s: float
) -> None:
    """One batch, POSTed again every 0.25 s while it gets a 503 or no answer at all."""
    answers_before = len(log.answers)
    try:
        status = poll(
            lambda: _post_once(client, chunk, log), retry_for_s, 0.25, until=lambda s: s == 202
        )
    finally:  # every answer to this batch but the last one was followed by a retry
        log.retries += max(0, len(log.answers) - answers_before - 1)
    if status != 202:
        raise UnexpectedAnswer(f"still {status or 'unreachable'} after retrying {retry_for_s}s")


def _post_once(client: httpx.Client, chunk: list[dict], log: PostLog) -> int:
    """The HTTP status of one POST of ``chunk`` (0: no answer), logged; raises
    ``UnexpectedAnswer`` for anything a retrying producer would not retry."""
    sent = time.monotonic()
    try:
        response = client.post("/v1/events", json=chunk)
        status = response.status_code
    except httpx.TransportError:
        response, status = None, 0
    answered = time.monotonic()
    log.slowest_s = max(log.slowest_s, answered - sent)
    log.answers.append((answered, status))
    log.statuses[status] += 1
    if status == 202:
        assert response is not None
        if response.json() != {"accepted": len(chunk)}:
            raise UnexpectedAnswer(f"202 with {response.text}")
        log.accepted += chunk
    elif status not in (0, 503):
        body = response.text[:500] if response is not None else ""
        raise UnexpectedAnswer(f"POST /v1/events answered {status}: {body}")
    return status


async def produce(
    bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes | None]]
) -> None:
    """(topic, key, value) in order with acks=all; returns once the broker acknowledged all."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=2 * 1024 * 1024,
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce_now(bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes | None]]) -> None:
    asyncio.run(produce(bootstrap, records))


class Feeder(threading.Thread):
    """POSTs a stream in the background at a steady pace, so chaos can strike in the middle."""

    def __init__(
        self,
        url: str,
        events: Sequence[dict],
        seconds: float,
        batch: int = 250,
        retry_for_s: float = 60,
    ):
        super().__init__(daemon=True, name="chaos-feeder")
        self.url, self.events, self.batch = url, events, batch
        self.retry_for_s = retry_for_s
        batches = max(1, -(-len(events) // batch))
        self.pause_s = max(0.0, seconds / batches)
        self.log = PostLog()
        self.error: BaseException | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        try:
            post_events(
                self.url,
                self.events,
                self.batch,
                self.log,
                retry_for_s=self.retry_for_s,
                pause_s=self.pause_s,
                stop=self.stop_event,
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            self.error = exc

    def finish(self, timeout_s: float) -> PostLog:
        self.join(timeout_s)
        if self.is_alive():
            self.stop_event.set()
            self.join(30)
            raise AssertionError(f"the feeder did not finish within {timeout_s}s")
        if self.error is not None:
            raise self.error
        return self.log


async def deliver_segments(
    ingest_url: str,
    bootstrap: str,
    segments: Sequence[tuple[str, Sequence[dict]]],
    to_records,
    batch: int = 500,
) -> None:
    """Send ``(path, events)`` segments one after the other, so arrival order is segment order:
    path ``api`` POSTs them (each batch must get 202), ``topic`` produces ``to_records(events)``
    straight onto the topics (acks=all, waited for before the next segment)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as client:
            for path, events in segments:
                if path == "api":
                    for start in range(0, len(events), batch):
                        chunk = list(events[start : start + batch])
                        response = await client.post("/v1/events", json=chunk)
                        if response.status_code != 202:
                            raise UnexpectedAnswer(
                                f"POST answered {response.status_code}: {response.text[:300]}"
                            )
                elif path == "topic":
                    futures = [
                        await producer.send(topic, value, key=key)
                        for topic, key, value in to_records(events)
                    ]
                    await asyncio.gather(*futures)
                else:
                    raise ValueError(f"unknown path {path!r}")
    finally:
        await producer.stop()
