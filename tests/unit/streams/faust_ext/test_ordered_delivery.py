"""After a seek to committed offsets, delivery resumes at the committed offset, never mid-batch."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.types import TP

from streams.faust_ext.checkpointed_offsets import CheckpointedOffsets
from streams.faust_ext.checkpointing_app import SalespulseApp
from streams.faust_ext.ordered_delivery import SeekFencedDelivery

COMMITTED, END, BATCH = 100, 160, 25
DEALS, CHANGELOG = TP("deal-events", 0), TP("kpi-changelog", 1)


class FakeFaustConsumer:
    """One partition as Faust's consumer sees it: ``getmany`` hands out a batch from the fetch
    position; ``perform_seek`` moves the position back to the committed offset."""

    def __init__(self, journal: list, *, fetch_s: float, seek_s: float) -> None:
        self.journal, self.fetch_s, self.seek_s = journal, fetch_s, seek_s
        self.position = COMMITTED
        self.app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={"kpi-changelog"}))

    async def getmany(self, timeout: float):
        await asyncio.sleep(self.fetch_s)
        start = self.position
        self.position = stop = min(start + BATCH, END)
        for offset in range(start, stop):
            yield DEALS, SimpleNamespace(offset=offset)

    async def perform_seek(self) -> None:
        await asyncio.sleep(self.seek_s)
        self.position = COMMITTED
        self.journal.append(("seek", COMMITTED))


class FencedFakeConsumer(SeekFencedDelivery, FakeFaustConsumer):
    pass


async def drain(consumer, journal: list, hand_over_s: float) -> None:
    """Faust's fetch loop: each record is handed to an agent (which takes a moment) in turn."""
    while True:
        async for _tp, message in consumer.getmany(1.0):
            await asyncio.sleep(hand_over_s)
            journal.append(("record", message.offset))
        records = [value for kind, value in journal if kind == "record"]
        if records and records[-1] == END - 1 and consumer.position == END:
            return
        await asyncio.sleep(0)


async def seek_while_draining(consumer_class, *, seek_after_s, fetch_s, hand_over_s) -> list:
    journal: list = []
    consumer = consumer_class(journal, fetch_s=fetch_s, seek_s=0.02)
    draining = asyncio.create_task(drain(consumer, journal, hand_over_s))
    await asyncio.sleep(seek_after_s)
    await consumer.perform_seek()
    await asyncio.wait_for(draining, 10)
    return journal


def first_records_after_seeks(journal: list) -> list[int]:
    firsts, after_seek = [], False
    for kind, value in journal:
        if kind == "seek":
            after_seek = True
        elif after_seek:
            firsts.append(value)
            after_seek = False
    return firsts


SCHEDULES = {
    "seek lands while a batch is being handed over": dict(
        seek_after_s=0.03, fetch_s=0.0, hand_over_s=0.004
    ),
    "seek lands while a fetch is under way": dict(
        seek_after_s=0.005, fetch_s=0.05, hand_over_s=0.0
    ),
    "seek lands between two slow fetches": dict(seek_after_s=0.06, fetch_s=0.04, hand_over_s=0.001),
}


@pytest.mark.parametrize("schedule", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_after_every_seek_delivery_resumes_at_the_committed_offset(schedule):
    journal = asyncio.run(seek_while_draining(FencedFakeConsumer, **schedule))
    firsts = first_records_after_seeks(journal)
    assert firsts, "the schedule seeks at least once"
    assert set(firsts) == {COMMITTED}


@pytest.mark.parametrize("schedule", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_every_record_up_to_the_end_is_delivered_in_order_after_the_last_seek(schedule):
    journal = asyncio.run(seek_while_draining(FencedFakeConsumer, **schedule))
    last_seek = max(i for i, (kind, _) in enumerate(journal) if kind == "seek")
    after = [value for kind, value in journal[last_seek:] if kind == "record"]
    assert after == list(range(COMMITTED, END))


def test_without_the_fence_a_seek_mid_batch_lets_the_old_batch_run_on():
    # Why the fence exists: Faust's own fetch loop keeps handing out a batch fetched before the
    # seek, so the first record after it is far past the committed offset.
    schedule = SCHEDULES["seek lands while a batch is being handed over"]
    journal = asyncio.run(seek_while_draining(FakeFaustConsumer, **schedule))
    assert first_records_after_seeks(journal)[0] > COMMITTED


def test_the_app_consumer_is_the_seek_fenced_and_checkpointed_one():
    app = SalespulseApp("t-ordered-delivery", broker="kafka://127.0.0.1:1")
    assert isinstance(app.consumer, SeekFencedDelivery)
    assert isinstance(app.consumer, CheckpointedOffsets)


class FakeCommittedOffsets:
    """``seek_to_committed`` as aiokafka does it: partitions at 0 or never committed stay put."""

    def __init__(self, committed: dict) -> None:
        self.committed, self.seeks = committed, {}
        self.app = SimpleNamespace(tables=SimpleNamespace(changelog_topics={"kpi-changelog"}))

    async def seek_to_committed(self) -> dict:
        return dict(self.committed)

    async def _seek(self, tp, offset: int) -> None:
        self.seeks[tp] = offset


class RewindingFake(SeekFencedDelivery, FakeCommittedOffsets):
    pass


def test_stream_partitions_never_committed_are_rewound_to_their_start_and_changelogs_left_alone():
    deals0, deals1 = TP("deal-events", 0), TP("deal-events", 1)
    costs2, changelog = TP("cost-events", 2), TP("kpi-changelog", 2)
    consumer = RewindingFake({deals0: None, deals1: 17, costs2: 0, changelog: None})
    committed = asyncio.run(consumer.seek_to_committed())
    assert committed[deals1] == 17
    assert consumer.seeks == {deals0: 0, costs2: 0}


class MixedBatch(FakeFaustConsumer):
    """A batch mixing a stream partition with a table changelog (read during recovery)."""

    async def getmany(self, timeout: float):
        for tp, offset in [(DEALS, 100), (CHANGELOG, 5), (DEALS, 101), (CHANGELOG, 6)]:
            yield tp, SimpleNamespace(offset=offset)


class FencedMixedBatch(SeekFencedDelivery, MixedBatch):
    pass


def test_a_seek_cuts_the_stream_records_of_a_batch_short_but_not_its_changelog_records():
    async def deliver_with_a_seek_after_the_first_record() -> tuple[list, list]:
        journal: list = []
        consumer = FencedMixedBatch(journal, fetch_s=0.0, seek_s=0.0)
        batch = consumer.getmany(1.0)
        tp, message = await batch.__anext__()
        delivered = [(tp.topic, message.offset)]
        seeking = asyncio.create_task(consumer.perform_seek())
        await asyncio.sleep(0)
        delivered += [(tp.topic, message.offset) async for tp, message in batch]
        await seeking
        return delivered, journal

    delivered, journal = asyncio.run(deliver_with_a_seek_after_the_first_record())
    assert delivered == [("deal-events", 100), ("kpi-changelog", 5), ("kpi-changelog", 6)]
    assert journal == [("seek", COMMITTED)]
