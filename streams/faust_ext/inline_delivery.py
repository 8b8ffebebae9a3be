"""Hand each fetched record to its agent inline, not through four new tasks per record.

Faust's fetch loop (``Consumer._drain_messages``, faust-streaming 0.15.3) hands every record over
with ``await self.wait_first(callback(message), self.suspend_flow.wait())``. mode's ``wait_first``
wraps that callback, the flow-stop wait and the service's stopped and crashed waits in four new
tasks, awaits ``asyncio.wait`` and cancels three of them: several event-loop turns for each
record, 38-48 % of what a Faust worker does per record when its agents do nothing (Faust's
floor in ``bench pipeline``, docs/BENCHMARKS.md). The wait exists for one case: a callback that
has to wait, because its agent's queue is full, must be abandoned when a rebalance stops the
flow. Nearly always it does not wait at all.

``InlineDelivery`` runs Faust's loop unchanged but for that line: the callback's coroutine takes
its first step right away, and only if it has to wait is the rest of it handed to the same
``wait_first`` with the flow-stop wait, so a stopped flow still abandons it. A first step that
completes is what Faust's version does too (the callback's task is scheduled before the three
waits, and runs its first step whatever they find). The loop is Faust's, split in two functions;
``tests/unit/streams/faust_ext/test_inline_delivery.py`` fails when the installed Faust's loop is
no longer the one it was taken from.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING

YIELD_EVERY = 100
"""Records handed over between two turns given to the rest of the loop (Faust's figure)."""


async def resume(coroutine: Coroutine[Any, Any, Any], blocked_on: Any) -> Any:
    """Drive ``coroutine``, which paused on ``blocked_on`` (what its first ``send`` yielded), to
    its end, as an asyncio task would have: each future it waits on is awaited here, and what
    that await raises (a cancellation included) is thrown into it."""
    while True:
        try:
            await _waited(blocked_on)
        except BaseException as exc:  # noqa: BLE001 - handed to the coroutine, which decides
            try:
                blocked_on = coroutine.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                blocked_on = coroutine.send(None)
            except StopIteration as stop:
                return stop.value


def _waited(blocked_on: Any) -> Awaitable[Any]:
    """What awaiting ``blocked_on`` means: a bare ``yield`` (``asyncio.sleep(0)``) is one loop
    turn; a future is awaited again once its blocking flag, set by the await that yielded it and
    cleared by no task since, is reset (else asyncio refuses the second await)."""
    if blocked_on is None:
        return asyncio.sleep(0)
    blocked_on._asyncio_future_blocking = False
    return cast(Awaitable[Any], blocked_on)


class InlineDelivery:
    """Mixin over a Faust consumer: its fetch loop with the hand-over inline (module docstring)."""

    async def deliver(
        self, callback: Callable[[Any], Coroutine[Any, Any, Any]], message: Any
    ) -> None:
        """Hand ``message`` to ``callback``, as Faust's loop does but without a task when the
        callback does not have to wait."""
        coroutine = callback(message)
        try:
            blocked_on = coroutine.send(None)
        except StopIteration:
            return
        await self.wait_first(  # type: ignore[attr-defined]
            resume(coroutine, blocked_on),
            self.suspend_flow.wait(),  # type: ignore[attr-defined]
        )

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
        """Faust's fetch loop (faust-streaming 0.15.3), its inner loop in ``_deliver_fetched``."""
        consumer_should_stop = self._stopped.is_set  # type: ignore[attr-defined]
        fetcher_should_stop = fetcher._stopped.is_set
        diag = self.diag  # type: ignore[attr-defined]
        log = self.log  # type: ignore[attr-defined]
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                diag.set_flag(CONSUMER_FETCHING)
                records = cast(AsyncIterator[Any], self.getmany(timeout=1.0))  # type: ignore[attr-defined]
                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)  # type: ignore[attr-defined]
                if not self.should_stop:  # type: ignore[attr-defined]
                    await self._deliver_fetched(records)
                diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:  # type: ignore[attr-defined]
            if self.transport.app.should_stop:  # type: ignore[attr-defined]
                log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:  # type: ignore[attr-defined]
                log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver_fetched(self, records: AsyncIterator[Any]) -> None:
        """Faust's inner loop: skip what was read already, record gaps, commit every
        ``commit_every`` acks, hand each record over (``deliver``), yield every 100 records."""
        callback, deliver = self.callback, self.deliver  # type: ignore[attr-defined]
        log = self.log  # type: ignore[attr-defined]
        read_offsets = self._read_offset  # type: ignore[attr-defined]
        acks_enabled_for = self.app.topics.acks_enabled_for  # type: ignore[attr-defined]
        commit_every = self._commit_every  # type: ignore[attr-defined]
        since_yield = 0
        async for tp, message in records:
            since_yield += 1
            if since_yield > YIELD_EVERY:
                await asyncio.sleep(0)
                since_yield = 0
            offset, read = message.offset, read_offsets[tp]
            if read is not None and offset < read:
                log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
                continue
            if read and offset - read > 1 and acks_enabled_for(message.topic):
                await self._add_gap(tp, read + 1, offset)  # type: ignore[attr-defined]
            if commit_every is not None and self._n_acked >= commit_every:  # type: ignore[attr-defined]
                self._n_acked = 0
                await self.commit()  # type: ignore[attr-defined]
            await deliver(callback, message)
            read_offsets[tp] = offset
