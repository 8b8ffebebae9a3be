"""Chaos fixtures: stacks whose processes may be killed, brokers of our own, the size switch.

Sizes: light by default (``make test``), heavy with ``--chaos-full`` or ``SALESPULSE_CHAOS=full``
(``make chaos``). Every scenario prints its verdict (accepted, counted, lost, double-counted...),
and pytest's terminal summary repeats all of them at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.chaos.audit import RESULTS, VERDICTS_LOG
from tests.chaos.brokers import DedicatedBroker, KraftCluster
from tests.support.stack import Stack, StackFactory

T = TypeVar("T")

# A crashed worker's partitions move once the group drops it: after the session timeout (10 s by
# default). 6 s (the broker's minimum) keeps each crash short; Faust heartbeats from its consumer
# thread, so a busy agent does not miss them.
CHAOS_WORKER_ENV = {
    "SALESPULSE_WORKER_SESSION_TIMEOUT_S": "6",
    "SALESPULSE_WORKER_HEARTBEAT_INTERVAL_S": "1.5",
    # The audit reads as_of tiles over the whole history (~120 days): keep all of it.
    "SALESPULSE_RETENTION_DAYS": "400",
}


@pytest.fixture(scope="session")
def chaos_full(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--chaos-full", default=False)) or (
        os.environ.get("SALESPULSE_CHAOS", "").lower() == "full"
    )


@pytest.fixture
def size(chaos_full: bool) -> Callable[[T, T], T]:
    """``size(light, full)``: the value for the current mode."""

    def pick(light: T, full: T) -> T:
        return full if chaos_full else light

    return pick


@pytest.fixture
def chaos_stack(
    request: pytest.FixtureRequest, topic_prefix: str, tmp_path
) -> Iterator[Callable[..., Stack]]:
    """Factory: ``chaos_stack(workers=1, ingest=True, bootstrap=None, **Stack options)``, ready.

    ``bootstrap`` defaults to the session's test broker (``kafka_bootstrap``).
    """
    factory = StackFactory(
        lambda: request.getfixturevalue("kafka_bootstrap"),
        topic_prefix,
        tmp_path,
        extra_env=CHAOS_WORKER_ENV,
    )
    yield factory.build
    factory.stop_all(show_logs=True)


@pytest.fixture
def dedicated_broker(tmp_path) -> Iterator[DedicatedBroker]:
    """A broker of this test's own (never the shared one), started; deleted afterwards."""
    broker = DedicatedBroker(tmp_path / "kafka")
    try:
        broker.start()
        yield broker
    finally:
        broker.destroy()


@pytest.fixture
def kraft_cluster(tmp_path) -> Iterator[KraftCluster]:
    """Three KRaft nodes on loopback (replication 3, min.insync.replicas 2), started."""
    cluster = KraftCluster(tmp_path / "cluster")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def pytest_terminal_summary(terminalreporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("chaos verdicts")
    for result in RESULTS:
        terminalreporter.write_line(result.summary())
    terminalreporter.write_line(f"(also appended to {VERDICTS_LOG})")
