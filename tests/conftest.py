"""Fixtures shared by the whole suite.

``kafka_bootstrap`` (session): "host:port" of a real Apache Kafka broker. With
``SALESPULSE_TEST_KAFKA_BOOTSTRAP`` set, that cluster is used as is, and the topics this session
created under its prefixes (``new_topic_prefix``) are deleted at its end. Otherwise a dedicated
test broker is started with ``deploy/kafka/kafka.sh`` on 127.0.0.1:19092 (controller 19093, state
in ``.local/test-kafka``, wiped at session start), apart from any dev stack on 9092, and stopped
at session end, pass or fail. Only tests that request it start the broker: unit tests need no
Java. Two sessions in one checkout take turns (a lock file), so one never wipes the other's broker.

``topic_prefix`` (function): a topic-name prefix unique to the test, ``t-<test-name>-<uuid8>.``;
tests create the topics they need under it, so they never see each other's data.

``--chaos-full`` (or ``SALESPULSE_CHAOS=full``): run the chaos scenarios (tests/chaos, marker
``chaos``) at their heavy sizes, as ``make chaos`` does; without it they run light (``make test``).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kafka import delete_topics_of_session, new_topic_prefix, run_broker_script
from tests.support.polling import poll

REPO = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
TEST_KAFKA_ENV = {
    "KAFKA_HOST": "127.0.0.1",
    "KAFKA_PORT": "19092",
    "KAFKA_CONTROLLER_PORT": "19093",
    "KAFKA_STATE_DIR": str(REPO / ".local" / "test-kafka"),
}
LOCK_WAIT_S = 240


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/chaos/conftest.py: pytest reads options from the root conftest only.
    parser.addoption(
        "--chaos-full",
        action="store_true",
        default=False,
        help="chaos scenarios at full size (also: SALESPULSE_CHAOS=full); default: light sizes",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: failure-injection scenario on real processes (tests/chaos)"
    )


def run_kafka_sh(command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/kafka/kafka.sh <command>`` against the test broker; output is captured."""
    return run_broker_script(KAFKA_SH, [command], TEST_KAFKA_ENV, timeout)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    external = os.environ.get("SALESPULSE_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        asyncio.run(delete_topics_of_session(external))
        return
    lock_path = REPO / ".local" / "test-kafka.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        _take_turn(lock)
        yield from _dedicated_broker()


def _take_turn(lock) -> None:
    if not poll(lambda: _locked(lock), LOCK_WAIT_S, 1):
        lock.seek(0)
        pytest.fail(
            f"another test session (pid {lock.read().strip() or '?'}) has held the test "
            f"broker for {LOCK_WAIT_S}s; or set SALESPULSE_TEST_KAFKA_BOOTSTRAP",
            pytrace=False,
        )
    lock.truncate(0)
    lock.write(str(os.getpid()))
    lock.flush()


def _locked(lock) -> bool:
    """Whether this session now holds the lock (False while another session does)."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _dedicated_broker() -> Iterator[str]:
    cleaned = run_kafka_sh("clean")
    if cleaned.returncode != 0:
        pytest.fail(f"kafka.sh clean failed:\n{cleaned.stdout}", pytrace=False)
    try:
        # The first run on a machine also fetches the broker jars (Maven): allow for it.
        started = run_kafka_sh("start")
        if started.returncode != 0:
            pytest.fail(f"the test Kafka broker did not start:\n{started.stdout}", pytrace=False)
        yield f"{TEST_KAFKA_ENV['KAFKA_HOST']}:{TEST_KAFKA_ENV['KAFKA_PORT']}"
    finally:
        stopped = run_kafka_sh("stop", timeout=120)
        if stopped.returncode != 0:
            print(f"kafka.sh stop failed:\n{stopped.stdout}")


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> str:
    return new_topic_prefix(request.node.name)
