"""Waiting for something outside the test to happen: a process ready, a topic visible, a worker
caught up. One spelling of "ask every ``interval_s`` until it is so or ``timeout_s`` is up", on
tenacity, so every wait gives up the same way.

- ``wait_until`` / ``await_until``: the wait must succeed; giving up raises ``NotWithin`` naming
  what was awaited and the last value (or error) seen, plus ``details()`` (e.g. a log tail).
- ``poll`` / ``poll_async``: the caller judges the outcome itself (a list of problems to assert
  on, a ``None`` to report): the last value is returned whether or not ``until`` held.

A probe is asked at least once, and once more after each ``interval_s`` while ``timeout_s`` (from
the first ask) has not elapsed. An exception of a type in ``retry_on`` counts as "not yet"; any
other exception ends the wait at once, so a probe may assert what must hold all along.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

T = TypeVar("T")
Errors = tuple[type[BaseException], ...]


class NotWithin(AssertionError, TimeoutError):
    """A wait gave up. An AssertionError so a test fails on it as on any assert; a TimeoutError
    so code that expects a timed-out wait to be one (the benchmarks) still sees one."""


@dataclass(frozen=True)
class _GaveUp:
    outcome: Future


def _policy(
    until: Callable[[Any], bool], timeout_s: float, interval_s: float, retry_on: Errors
) -> dict[str, Any]:
    retry = retry_if_result(lambda value: not until(value))
    if retry_on:
        retry = retry | retry_if_exception_type(retry_on)
    return {
        "stop": stop_after_delay(timeout_s),
        "wait": wait_fixed(interval_s),
        "retry": retry,
        "retry_error_callback": _gave_up,
    }


def _gave_up(state: RetryCallState) -> _GaveUp:
    assert state.outcome is not None
    return _GaveUp(state.outcome)


def _last(answer: T | _GaveUp) -> T:
    return answer.outcome.result() if isinstance(answer, _GaveUp) else answer


def _judged(
    answer: T | _GaveUp, what: str, timeout_s: float, details: Callable[[], str] | None
) -> T:
    if not isinstance(answer, _GaveUp):
        return answer
    error = answer.outcome.exception()
    seen = f"error {error!r}" if error is not None else repr(answer.outcome.result())
    message = f"{what}: not within {timeout_s}s; last seen: {seen}"
    if details is not None:
        message += f"\n{details()}"
    raise NotWithin(message) from error


def _ask(probe: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """``probe`` as a coroutine function: AsyncRetrying awaits only what is declared ``async``,
    and a ``lambda: client.get(...)`` is not (it would get the coroutine object as the value)."""

    async def ask() -> T:
        return await probe()

    return ask


def _truthy(value: object) -> bool:
    return bool(value)


def poll(
    probe: Callable[[], T],
    timeout_s: float,
    interval_s: float,
    *,
    until: Callable[[T], bool] = _truthy,
) -> T:
    """The first value of ``probe()`` that satisfies ``until``, else the last one at the timeout."""
    return _last(Retrying(**_policy(until, timeout_s, interval_s, ()))(probe))


async def poll_async(
    probe: Callable[[], Awaitable[T]],
    timeout_s: float,
    interval_s: float,
    *,
    until: Callable[[T], bool] = _truthy,
) -> T:
    """``poll`` for a coroutine probe: the event loop keeps running between asks."""
    return _last(await AsyncRetrying(**_policy(until, timeout_s, interval_s, ()))(_ask(probe)))


def wait_until(
    probe: Callable[[], T],
    timeout_s: float,
    interval_s: float,
    what: str,
    *,
    until: Callable[[T], bool] = _truthy,
    retry_on: Errors = (),
    details: Callable[[], str] | None = None,
) -> T:
    """The first value of ``probe()`` that satisfies ``until``; ``NotWithin`` after the timeout.

    ``what`` names the awaited state ("ingest ready"); ``details`` adds what the waiter knows at
    that moment (a process's log tail) to the failure."""
    answer = Retrying(**_policy(until, timeout_s, interval_s, retry_on))(probe)
    return _judged(answer, what, timeout_s, details)


async def await_until(
    probe: Callable[[], Awaitable[T]],
    timeout_s: float,
    interval_s: float,
    what: str,
    *,
    until: Callable[[T], bool] = _truthy,
    retry_on: Errors = (),
    details: Callable[[], str] | None = None,
) -> T:
    """``wait_until`` for a coroutine probe."""
    answer = await AsyncRetrying(**_policy(until, timeout_s, interval_s, retry_on))(_ask(probe))
    return _judged(answer, what, timeout_s, details)
