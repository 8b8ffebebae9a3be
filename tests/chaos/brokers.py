"""Brokers a chaos scenario may kill: a dedicated single broker (``deploy/kafka/kafka.sh``) and a
3-node KRaft cluster (``deploy/kafka/cluster.sh``), each on free loopback ports with its state in
the test's temporary directory. The session's shared test broker is never touched."""

from __future__ import annotations

import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.kafka import run_broker_script
from tests.support.polling import poll
from tests.support.stack import free_port

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
CLUSTER_SH = REPO / "deploy" / "kafka" / "cluster.sh"


class BrokerScriptFailed(RuntimeError):
    pass


def _run(script: Path, args: list[str], env: dict[str, str], timeout: float) -> str:
    done = run_broker_script(script, args, env, timeout)
    if done.returncode != 0:
        raise BrokerScriptFailed(f"{script.name} {' '.join(args)} failed:\n{done.stdout}")
    return done.stdout


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class DedicatedBroker:
    """One broker of our own, started with kafka.sh; ``kill`` is a kill -9 of its JVM."""

    state_dir: Path
    port: int = 0
    controller_port: int = 0

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            "KAFKA_HOST": "127.0.0.1",
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_STATE_DIR": str(self.state_dir),
        }

    def start(self) -> float:
        """Start (or restart on the same data); seconds until it was ready."""
        started = time.monotonic()
        _run(KAFKA_SH, ["start"], self.env, timeout=300)
        return time.monotonic() - started

    def pid(self) -> int | None:
        pid_file = self.state_dir / "kafka.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the JVM (pid from kafka.sh's pid file) and wait until it is gone."""
        pid = self.pid()
        if pid is None:
            raise BrokerScriptFailed(f"no pid file in {self.state_dir}")
        os.kill(pid, signal.SIGKILL)
        if not poll(lambda: not _alive(pid), 20, 0.1):
            raise BrokerScriptFailed(f"broker pid {pid} survived SIGKILL")

    def clean(self) -> None:
        _run(KAFKA_SH, ["clean"], self.env, timeout=120)

    def destroy(self) -> None:
        """Kill, then delete: the fast teardown of a throwaway broker."""
        if self.pid() is not None and _alive(self.pid()):
            self.kill()
        self.clean()


@dataclass
class KraftCluster:
    """Three broker+controller nodes from cluster.sh (replication 3, min.insync.replicas 2)."""

    state_dir: Path
    base_port: int = 0

    def __post_init__(self) -> None:
        self.base_port = self.base_port or _free_port_run(6)

    @property
    def env(self) -> dict[str, str]:
        return {
            "KAFKA_HOST": "127.0.0.1",
            "KAFKA_CLUSTER_PORT": str(self.base_port),
            "KAFKA_CLUSTER_STATE_DIR": str(self.state_dir),
            # Three JVMs on a small box: a smaller heap each than the single dev broker.
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m",
            "KAFKA_START_TIMEOUT": "120",
        }

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.base_port + 2 * n}" for n in range(3))

    def start(self) -> float:
        started = time.monotonic()
        _run(CLUSTER_SH, ["start"], self.env, timeout=400)
        return time.monotonic() - started

    def kill(self, node: int) -> None:
        _run(CLUSTER_SH, ["kill", str(node)], self.env, timeout=60)

    def start_node(self, node: int) -> float:
        started = time.monotonic()
        _run(CLUSTER_SH, ["start-node", str(node)], self.env, timeout=300)
        return time.monotonic() - started

    def clean(self) -> None:
        _run(CLUSTER_SH, ["clean"], self.env, timeout=180)

    def destroy(self) -> None:
        """Kill every node, then delete: the fast teardown of a throwaway cluster."""
        for node in (1, 2, 3):
            self.kill(node)
        self.clean()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _free_port_run(length: int) -> int:
    """The first of ``length`` consecutive free loopback ports (random region, a few tries)."""
    for _ in range(50):
        base = free_port()
        if base + length < 65535 and all(_port_is_free(base + i) for i in range(length)):
            return base
    raise RuntimeError(f"no run of {length} free ports found")


async def describe_partitions(bootstrap: str, topic: str) -> list[dict]:
    """Each partition of ``topic``: ``partition``, ``leader``, ``replicas``, ``isr`` (node ids)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(described["partitions"], key=lambda p: p["partition"])
