"""Fetched records reach their agents inline when there is room, as Faust's loop would otherwise
hand them over, and a stopped flow still abandons a hand-over that has to wait."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections import defaultdict
from types import SimpleNamespace

import pytest
from faust.transport.consumer import Consumer
from faust.types import TP
from mode import Service
from mode.utils.locks import Event

from streams.faust_ext.inline_delivery import InlineDelivery, resume

FAUST_LOOP_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
"""Faust 0.15.3's ``Consumer._drain_messages``, which ``InlineDelivery`` was taken from."""

DEALS = TP("deal-events", 3)


class FetchLoop(InlineDelivery, Service):
    """The parts of a Faust consumer the inline loop uses, around an agent queue of ``room``."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=room)
        self.suspend_flow = Event()
        self.tasks_awaited = 0
        self.abandoned: list = []
        self.gaps: list = []
        self._read_offset: defaultdict = defaultdict(lambda: None)
        self._commit_every, self._n_acked = None, 0
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True))

    async def callback(self, message) -> None:
        try:
            await self.queue.put(message)
        except asyncio.CancelledError:
            self.abandoned.append(message)
            raise

    async def wait_first(self, *coros, timeout=None):
        self.tasks_awaited += 1
        return await super().wait_first(*coros, timeout=timeout)

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        self.gaps.append((tp, offset_from, offset_to))


def record(offset: int) -> SimpleNamespace:
    return SimpleNamespace(offset=offset, topic=DEALS.topic, key=b"k", value=b"v")


async def fetched(*offsets: int):
    for offset in offsets:
        yield DEALS, record(offset)


async def test_a_record_whose_agent_has_room_is_handed_over_without_a_task():
    loop = FetchLoop(room=4)

    await loop.deliver(loop.callback, record(7))

    assert loop.queue.get_nowait().offset == 7
    assert loop.tasks_awaited == 0


async def handing_to_a_full_agent(loop: FetchLoop) -> asyncio.Task:
    """Record 7 being handed over, waiting, to an agent whose one place record 6 holds."""
    loop.queue.put_nowait(record(6))
    handing = asyncio.create_task(loop.deliver(loop.callback, record(7)))
    await asyncio.sleep(0.01)
    assert not handing.done()
    return handing


async def test_a_record_whose_agent_is_full_is_handed_over_once_there_is_room():
    loop = FetchLoop(room=1)

    handing = await handing_to_a_full_agent(loop)
    loop.queue.get_nowait()
    await asyncio.wait_for(handing, 1)

    assert loop.queue.get_nowait().offset == 7
    assert loop.tasks_awaited == 1


async def test_a_stopped_flow_abandons_a_hand_over_that_waits():
    loop = FetchLoop(room=1)

    handing = await handing_to_a_full_agent(loop)
    loop.suspend_flow.set()
    await asyncio.wait_for(handing, 1)

    assert [message.offset for message in loop.abandoned] == [7]
    assert loop.queue.qsize() == 1 and loop.queue.get_nowait().offset == 6


async def test_fetched_records_go_over_in_order_skipping_what_was_read_and_noting_gaps():
    loop = FetchLoop(room=10)
    loop._read_offset[DEALS] = 5

    await loop._deliver_fetched(fetched(3, 5, 6, 9))

    handed = [loop.queue.get_nowait().offset for _ in range(loop.queue.qsize())]
    assert handed == [5, 6, 9]
    assert loop.gaps == [(DEALS, 7, 9)]
    assert loop._read_offset[DEALS] == 9


async def test_a_resumed_coroutine_gets_what_it_waited_on_even_a_failure():
    future = asyncio.get_running_loop().create_future()

    async def waits() -> str:
        await asyncio.sleep(0)
        try:
            await future
        except ValueError as exc:
            return f"handled {exc}"
        return "not reached"

    coroutine = waits()
    driving = asyncio.create_task(resume(coroutine, coroutine.send(None)))
    await asyncio.sleep(0.01)
    future.set_exception(ValueError("late"))

    assert await asyncio.wait_for(driving, 1) == "handled late"


async def test_cancelling_a_resumed_coroutine_cancels_what_it_waits_on():
    future = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def waits() -> None:
        try:
            await future
        finally:
            cleaned.append("finally")

    coroutine = waits()
    driving = asyncio.create_task(resume(coroutine, coroutine.send(None)))
    await asyncio.sleep(0.01)
    driving.cancel()

    with pytest.raises(asyncio.CancelledError):
        await driving
    assert future.cancelled() and cleaned == ["finally"]


def test_fausts_fetch_loop_is_still_the_one_the_inline_loop_was_taken_from():
    source = inspect.getsource(Consumer._drain_messages)

    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_LOOP_SHA256, (
        "faust.transport.consumer.Consumer._drain_messages changed: carry its changes over to "
        "streams.faust_ext.inline_delivery, then update FAUST_LOOP_SHA256"
    )
