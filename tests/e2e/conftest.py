"""End-to-end fixtures: whole salespulse stacks (workers + ingest processes) on the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.stack import Stack


@pytest.fixture
def make_stack(kafka_bootstrap: str, topic_prefix: str, tmp_path) -> Iterator[Callable[..., Stack]]:
    """Factory: ``make_stack(workers=1, ingest=True, **stack_options)`` started and ready."""
    stacks: list[Stack] = []

    def build(workers: int = 1, ingest: bool = True, **options) -> Stack:
        stack = Stack(
            bootstrap=kafka_bootstrap,
            prefix=f"{topic_prefix}{len(stacks)}.",
            workdir=tmp_path / f"stack-{len(stacks)}",
            **options,
        )
        stack.workdir.mkdir(parents=True)
        stacks.append(stack)
        for _ in range(workers):
            stack.start_worker(wait=False)
        if ingest:
            stack.start_ingest()
        stack.wait_all_ready()
        return stack

    yield build
    for stack in stacks:
        stack.stop()
