"""End-to-end fixtures: whole salespulse stacks (workers + ingest processes) on the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.stack import Stack, StackFactory


@pytest.fixture
def make_stack(kafka_bootstrap: str, topic_prefix: str, tmp_path) -> Iterator[Callable[..., Stack]]:
    """Factory: ``make_stack(workers=1, ingest=True, **stack_options)`` started and ready."""
    factory = StackFactory(lambda: kafka_bootstrap, topic_prefix, tmp_path)
    yield factory.build
    factory.stop_all()
