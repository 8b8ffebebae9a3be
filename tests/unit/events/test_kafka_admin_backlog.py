"""A consumer group's backlog per topic, from end offsets and what the group committed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiokafka.structs import TopicPartition

from events.kafka_admin import uncommitted_per_topic

A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


def committed_at(offset: int) -> SimpleNamespace:
    return SimpleNamespace(offset=offset)


@pytest.mark.parametrize(
    ("committed", "firsts", "expected"),
    [
        ({A0: committed_at(10), A1: committed_at(5), B0: committed_at(7)}, None, {"a": 0, "b": 0}),
        ({A0: committed_at(4), A1: committed_at(5)}, None, {"a": 6, "b": 7}),
        ({A0: committed_at(-1)}, {A0: 3, A1: 5, B0: 2}, {"a": 7, "b": 5}),
        ({B0: committed_at(9)}, None, {"a": 15, "b": 0}),
    ],
    ids=[
        "all committed",
        "partly committed",
        "never committed: from the first offset",
        "committed past the end counts 0",
    ],
)
def test_the_backlog_is_end_minus_committed_summed_per_topic(committed, firsts, expected):
    ends = {A0: 10, A1: 5, B0: 7}
    assert uncommitted_per_topic([A0, A1, B0], ends, committed, firsts) == expected
