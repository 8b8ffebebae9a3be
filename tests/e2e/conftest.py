"""End-to-end fixtures: whole salespulse stacks (workers + ingest processes) on the real broker.

``make_stack`` builds a stack when the test asks for it. ``own_stack`` hands a test the stack its
``@pytest.mark.stack(...)`` describes, started ahead of time: at a module's first such test,
the stacks of all its selected tests start together in the background (most of an e2e test's time
is processes starting), and they stop together. Each test still has processes, topics and data of
its own; tests that only read a stack may share one by giving their marks the same ``name``
(``stacks_ahead.get(name)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.kafka import new_topic_prefix
from tests.support.stack import Service, Stack, StackFactory

STACK_MARK = "stack"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{STACK_MARK}(name=None, workers=1, ingest=True, wait_workers=True, **stack_options): "
        "the stack of the test (fixture own_stack, or stacks_ahead.get(name) when shared), "
        "started with the module's other marked stacks ahead of the tests; wait_workers=False: "
        "handed over once ingest is ready and the workers are spawned, not yet ready",
    )


@pytest.fixture
def make_stack(kafka_bootstrap: str, topic_prefix: str, tmp_path) -> Iterator[Callable[..., Stack]]:
    """Factory: ``make_stack(workers=1, ingest=True, **stack_options)`` started and ready."""
    factory = StackFactory(lambda: kafka_bootstrap, topic_prefix, tmp_path)
    yield factory.build
    factory.stop_all()


@pytest.fixture
def make_rated_stack(make_stack, tmp_path) -> Callable[..., tuple[Stack, Path]]:
    """Factory: ``make_rated_stack(rates_csv, **env)``: a one-worker stack without ingest whose
    ``SALESPULSE_CURRENCY_RATES_FILE`` holds ``rates_csv``; returns the stack and the file (a test
    may rewrite it and restart the worker)."""

    def build(rates_csv: str, **env: str) -> tuple[Stack, Path]:
        rates = tmp_path / f"rates-{len(list(tmp_path.glob('rates-*.csv')))}.csv"
        rates.write_text(rates_csv)
        extra_env = {"SALESPULSE_CURRENCY_RATES_FILE": str(rates), **env}
        return make_stack(workers=1, ingest=False, extra_env=extra_env), rates

    return build


class StacksAhead:
    """Stacks being started in the background, by name; ``get`` waits for one."""

    def __init__(self, kafka_bootstrap: str, workdir: Callable[[str], Path]) -> None:
        self._bootstrap = kafka_bootstrap
        self._workdir = workdir
        self._factories: dict[str, StackFactory] = {}
        self._starts: dict[str, Future[Stack]] = {}
        self._stopping: set[str] = set()
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="stack-ahead")

    def start(self, name: str, options: dict) -> None:
        factory = StackFactory(
            lambda: self._bootstrap, new_topic_prefix(name[:40]), self._workdir(name)
        )
        self._factories[name] = factory
        self._starts[name] = self._pool.submit(factory.build, **options)

    def get(self, name: str) -> Stack:
        """The stack started as ``name``, once ready (its start's error, if it failed)."""
        if name not in self._starts:
            raise LookupError(f"no selected test of this module is marked stack(name={name!r})")
        return self._starts[name].result()

    def stop(self, name: str) -> None:
        """Stop the processes of ``name``'s stack in the background (the test is done with it)."""
        if name not in self._stopping:
            self._stopping.add(name)
            self._pool.submit(self._stop_after_start, name)

    def _stop_after_start(self, name: str) -> None:
        self._starts[name].exception()  # a start still under way finishes first
        _stop_together([s for stack in self._factories[name].stacks for s in stack.services])

    def close(self) -> None:
        """Stop every stack (all at once), once its start is over."""
        for name in self._starts:
            self.stop(name)
        self._pool.shutdown(wait=True)


def _stop_together(services: list[Service]) -> None:
    """``Service.stop`` of every service at once: each stop mostly waits for its process."""
    if services:
        with ThreadPoolExecutor(len(services), thread_name_prefix="stack-stop") as pool:
            list(pool.map(Service.stop, services))


def _stack_name(item: pytest.Item, mark: pytest.Mark) -> str:
    return mark.kwargs.get("name") or re.sub(r"[^a-z0-9]+", "-", item.name.lower()).strip("-")


@pytest.fixture(scope="module")
def stacks_ahead(request, kafka_bootstrap: str, tmp_path_factory) -> Iterator[StacksAhead]:
    """The stacks of this module's selected tests marked ``stack``, all starting now."""
    ahead = StacksAhead(kafka_bootstrap, lambda name: tmp_path_factory.mktemp(name[:40]))
    specs: dict[str, dict] = {}
    for item in request.session.items:
        mark = item.get_closest_marker(STACK_MARK)
        if mark is not None and getattr(item, "module", None) is request.module:
            options = {k: v for k, v in mark.kwargs.items() if k != "name"}
            name = _stack_name(item, mark)
            assert specs.setdefault(name, options) == options, f"stack {name}: two descriptions"
    for name, options in specs.items():
        ahead.start(name, options)
    try:
        yield ahead
    finally:
        ahead.close()


@pytest.fixture
def own_stack(request, stacks_ahead: StacksAhead) -> Iterator[Stack]:
    """The stack of this test's ``stack`` mark, ready (see ``wait_workers``); stopped after it."""
    mark = request.node.get_closest_marker(STACK_MARK)
    assert mark is not None, "own_stack needs a @pytest.mark.stack(...) on the test"
    name = _stack_name(request.node, mark)
    yield stacks_ahead.get(name)
    if not mark.kwargs.get("name"):  # a shared stack stops with the module
        stacks_ahead.stop(name)
