"""Ready only after catching up: the latch of streams/catch_up.py and its effect on ownership."""

from types import SimpleNamespace

import pytest
from faust.types import TP

from events.settings import Settings
from projections.timebase import BucketGrid
from streams.catch_up import CatchUp, group_topics
from streams.ownership import Ownership
from streams.tools.kafka_io import KafkaToolError


@pytest.fixture
def make_measure():
    """Factory: an async lag measurement answering ``answers`` in turn; counts its calls."""

    def build(*answers):
        calls = []

        async def measure() -> int:
            calls.append(1)
            answer = answers[len(calls) - 1]
            if isinstance(answer, Exception):
                raise answer
            return answer

        measure.calls = calls
        return measure

    return build


async def test_a_worker_not_required_to_catch_up_is_caught_up_without_asking_kafka(make_measure):
    measure = make_measure()
    latch = CatchUp(required=False, measure=measure)

    assert latch.done
    assert await latch.check()
    assert measure.calls == []


@pytest.mark.parametrize(
    ("answers", "results"),
    [
        ((5, 0), [False, True, True]),
        ((0,), [True, True, True]),
        ((KafkaToolError("down"), 3, 0), [False, False, True]),
    ],
)
async def test_the_latch_opens_once_nothing_is_behind_and_stays_open(
    make_measure, answers, results
):
    measure = make_measure(*answers)
    latch = CatchUp(required=True, measure=measure)

    assert [await latch.check() for _ in results] == results
    assert len(measure.calls) == len(answers)


@pytest.mark.parametrize(
    ("caught_up", "rebalancing", "ready"),
    [(True, False, True), (False, False, False), (True, True, False)],
)
def test_a_worker_is_ready_when_recovered_and_caught_up(caught_up, rebalancing, ready):
    ownership = Ownership(
        recovering_app(rebalancing),
        replaying(),
        "kpi-deltas",
        4,
        BucketGrid("UTC"),
        caught_up=lambda: caught_up,
    )

    assert ownership.is_ready() is ready
    assert ownership.is_recovered() is not rebalancing


def test_a_worker_is_not_ready_until_its_partitions_are_replayed_to_the_groups_offsets():
    engine = replaying(done=False)
    ownership = Ownership(recovering_app(False), engine, "kpi-deltas", 4, BucketGrid("UTC"))

    assert not ownership.is_ready()
    assert engine.asked == [{1, 3}]
    engine.done = True
    assert ownership.is_ready()
    assert ownership.owned_partitions() == {1, 3}


def recovering_app(rebalancing: bool) -> SimpleNamespace:
    assigned = {TP("kpi-deltas", 1), TP("kpi-deltas", 3), TP("deal-events", 2)}
    return SimpleNamespace(
        rebalancing=rebalancing,
        tables=SimpleNamespace(actives_ready=True),
        assignor=SimpleNamespace(assigned_actives=lambda: assigned),
    )


def replaying(done: bool = True) -> SimpleNamespace:
    """A state engine whose ``replayed`` answers ``done`` and records what it was asked."""
    engine = SimpleNamespace(done=done, asked=[])

    def replayed(partitions) -> bool:
        engine.asked.append(set(partitions))
        return engine.done

    engine.replayed = replayed
    return engine


def test_a_generation_reads_the_event_log_and_its_own_internal_topics():
    settings = Settings(topic_prefix="acme.", table_generation="g2")

    assert group_topics(settings) == [
        "acme.sales.deal-events",
        "acme.sales.call-events",
        "acme.sales.cost-events",
        "acme.salespulse.g2.customer-wins",
        "acme.salespulse.g2.kpi-deltas",
    ]
