"""The tests' waits: they return as soon as the awaited state holds, and a wait that gives up
says what it waited for and what it saw last."""

import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.polling import NotWithin, await_until, poll, poll_async, wait_until


def answers(*values: object) -> Callable[[], object]:
    """A probe answering ``values`` in turn, then the last one for ever."""
    stream: Iterator[object] = iter(values)
    last: list[object] = []

    def probe() -> object:
        last[:] = [next(stream, *last)]
        return last[0]

    return probe


def raising_then(error: BaseException, times: int, value: object) -> Callable[[], object]:
    """A probe raising ``error`` ``times`` times, then answering ``value``."""
    calls = [0]

    def probe() -> object:
        calls[0] += 1
        if calls[0] <= times:
            raise error
        return value

    return probe


def test_wait_until_returns_the_first_value_that_satisfies_the_condition():
    probe = answers(None, [], ["topic"], ["other"])

    assert wait_until(probe, 5, 0.001, "topic visible") == ["topic"]


def test_wait_until_checks_the_value_with_until_when_given():
    probe = answers(1, 2, 3, 4)

    assert wait_until(probe, 5, 0.001, "three partitions", until=lambda n: n >= 3) == 3


def test_wait_until_raises_not_within_naming_what_was_awaited_and_the_last_value_seen():
    with pytest.raises(NotWithin) as raised:
        wait_until(
            answers(0, 1, 2),
            0.05,
            0.01,
            "ingest ready",
            until=lambda n: n > 2,
            details=lambda: "log: port busy",
        )

    message = str(raised.value)
    assert message.startswith("ingest ready: not within 0.05s; last seen: 2")
    assert message.endswith("\nlog: port busy")
    assert isinstance(raised.value, AssertionError) and isinstance(raised.value, TimeoutError)


def test_wait_until_gives_up_after_the_timeout_not_before():
    started = time.monotonic()

    with pytest.raises(NotWithin):
        wait_until(answers(False), 0.2, 0.02, "never")

    assert 0.2 <= time.monotonic() - started < 2


def test_an_exception_listed_in_retry_on_counts_as_not_yet():
    probe = raising_then(ConnectionError("refused"), 3, "ready")

    assert wait_until(probe, 5, 0.001, "ready", retry_on=(ConnectionError,)) == "ready"


def test_a_retried_exception_still_there_at_the_timeout_is_the_last_thing_seen_and_the_cause():
    refused = ConnectionError("refused")

    with pytest.raises(NotWithin, match="last seen: error ConnectionError") as raised:
        wait_until(raising_then(refused, 10**6, None), 0.05, 0.01, "up", retry_on=(OSError,))

    assert raised.value.__cause__ is refused


def test_an_exception_not_listed_in_retry_on_ends_the_wait_at_once():
    probe = raising_then(RuntimeError("exited early"), 1, "ready")
    started = time.monotonic()

    with pytest.raises(RuntimeError, match="exited early"):
        wait_until(probe, 5, 0.5, "ready", retry_on=(ConnectionError,))

    assert time.monotonic() - started < 0.5


def test_poll_returns_the_first_value_that_satisfies_the_condition():
    probe = answers(["a missing"], ["b missing"], [], ["late"])

    assert poll(probe, 5, 0.001, until=lambda problems: not problems) == []


def test_poll_returns_the_last_value_seen_once_time_is_up_without_raising():
    probe = answers(["3 behind"], ["2 behind"], ["1 behind"])

    assert poll(probe, 0.1, 0.01, until=lambda problems: not problems) == ["1 behind"]


def test_a_zero_timeout_asks_exactly_once():
    calls = []

    assert poll(lambda: calls.append(1), 0, 10) is None
    assert calls == [1]


async def test_await_until_returns_the_first_value_of_a_coroutine_probe_that_satisfies_it():
    probe = answers(0, 1, 2)

    async def partitions() -> object:
        return probe()

    assert await await_until(partitions, 5, 0.001, "2 partitions", until=lambda n: n == 2) == 2


async def test_await_until_raises_not_within_with_the_last_value_seen():
    async def lag() -> int:
        return 7

    with pytest.raises(NotWithin, match=r"^lag zero: not within 0.05s; last seen: 7$"):
        await await_until(lag, 0.05, 0.01, "lag zero", until=lambda n: n == 0)


async def test_await_until_retries_the_listed_exceptions_of_a_coroutine_probe():
    probe = raising_then(TimeoutError("metadata"), 2, "described")

    async def describe() -> object:
        return probe()

    assert await await_until(describe, 5, 0.001, "described", retry_on=(TimeoutError,)) == (
        "described"
    )


async def test_poll_async_returns_the_last_value_once_time_is_up():
    probe = answers(1, 2, 3)

    async def total() -> object:
        return probe()

    assert await poll_async(total, 0.1, 0.01, until=lambda n: n >= 12) == 3


async def test_a_lambda_returning_a_coroutine_is_awaited_like_a_coroutine_function():
    async def partitions() -> list[int]:
        return [0, 1, 2]

    def three(found: list[int]) -> bool:
        return len(found) == 3

    assert await await_until(lambda: partitions(), 5, 0.001, "3 partitions") == [0, 1, 2]
    assert await poll_async(lambda: partitions(), 5, 0.001, until=three) == [0, 1, 2]
