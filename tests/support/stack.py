"""Real salespulse processes for tests: workers and ingest as subprocesses on free ports.

Each stack gets its own topic prefix, data directories and ports, so tests never share state. The
processes are the ``salespulse`` console script, exactly what ``make up`` runs.

Chaos tests also crash them: ``Service.kill`` is a kill -9 (no shutdown, no flush, no commit), and
``Stack.restart_worker`` starts a worker again with the same index, hence the same data directory
(``state-<index>``) and the same table store, as an orchestrator restarting a crashed pod would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.polling import wait_until

SALESPULSE = str(Path(sys.executable).with_name("salespulse"))
READY_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path
    index: int | None = None
    """A worker's index: it names its data directory ``state-<index>``."""

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        wait_until(
            self._ready,
            timeout_s,
            0.3,
            f"{self.name} ready",
            retry_on=(httpx.TransportError,),
            details=self.log_tail,
        )

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
        return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        """kill -9: the process gets no chance to flush, commit or close anything."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@dataclass
class Stack:
    """A prefix-isolated salespulse deployment against a real broker."""

    bootstrap: str
    prefix: str
    workdir: Path
    partitions: int = 4
    token: str | None = None
    time_zone: str = "UTC"
    table_store: str | None = None
    """``SALESPULSE_TABLE_STORE`` of the workers (e.g. ``rocksdb://``); unset: the default."""
    replication_factor: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    """More environment for every process: other ``SALESPULSE_*`` settings, Faust's own knobs
    (e.g. ``SALESPULSE_WORKER_SESSION_TIMEOUT_S``)."""
    services: list[Service] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "SALESPULSE_KAFKA_BOOTSTRAP": self.bootstrap,
            "SALESPULSE_TOPIC_PREFIX": self.prefix,
            "SALESPULSE_PARTITIONS": str(self.partitions),
            "SALESPULSE_REPLICATION_FACTOR": str(self.replication_factor),
            "SALESPULSE_TIME_ZONE": self.time_zone,
            "SALESPULSE_BATCH_WITHIN_S": "0.05",
            "SALESPULSE_LOG_LEVEL": "INFO",
            **self.extra_env,
            **extra,
        }
        if self.token:
            env["SALESPULSE_INGEST_TOKEN"] = self.token
        if self.table_store:
            env["SALESPULSE_TABLE_STORE"] = self.table_store
        return env

    def _spawn(
        self, name: str, args: list[str], url: str, index: int | None = None, **env: str
    ) -> Service:
        log_path = self.workdir / f"{name}.log"
        log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [SALESPULSE, *args],
            env=self.env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        service = Service(name, url, process, log_path, index)
        self.services.append(service)
        return service

    def start_worker(self, index: int | None = None, wait: bool = True, **env: str) -> Service:
        """A worker process; ``env`` adds settings of this worker only (e.g. a table generation)."""
        index = len(self.workers) if index is None else index
        port = free_port()
        service = self._spawn(
            f"worker-{index}",
            ["worker", "--web-port", str(port)],
            f"http://127.0.0.1:{port}",
            index,
            SALESPULSE_DATA_DIR=str(self.data_dir(index)),
            **env,
        )
        if wait:
            service.wait_ready()
        return service

    def data_dir(self, index: int) -> Path:
        return self.workdir / f"state-{index}"

    def restart_worker(self, worker: Service, wait: bool = True) -> Service:
        """Start ``worker`` again (same index, data directory and store), stopping it if alive.

        The new process replaces the old one in ``services``; its web port is a new one.
        """
        if worker.alive:
            worker.stop()
        self.services.remove(worker)
        return self.start_worker(index=worker.index, wait=wait)

    def start_ingest(self) -> Service:
        port = free_port()
        service = self._spawn("ingest", ["ingest", "--port", str(port)], f"http://127.0.0.1:{port}")
        service.wait_ready()
        return service

    @property
    def workers(self) -> list[Service]:
        return [s for s in self.services if s.name.startswith("worker-")]

    @property
    def live_workers(self) -> list[Service]:
        return [s for s in self.workers if s.alive]

    @property
    def ingest(self) -> Service:
        return next(s for s in self.services if s.name == "ingest")

    def wait_all_ready(self) -> None:
        for service in self.services:
            if service.process.poll() is None:
                service.wait_ready()

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


@dataclass
class StackFactory:
    """Builds the stacks of one test, each under its own prefix and folder, and stops them all.

    Fixtures hand out ``build`` (``build(workers=1, ingest=True, bootstrap=None, **options)``,
    started and ready) and call ``stop_all`` at teardown; ``extra_env`` goes to every process of
    every stack, under the stack's own ``extra_env``.
    """

    default_bootstrap: Callable[[], str]
    """Called only when a stack does not name its broker (chaos scenarios bring their own)."""
    prefix: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    stacks: list[Stack] = field(default_factory=list)

    def build(
        self,
        workers: int = 1,
        ingest: bool = True,
        bootstrap: str | None = None,
        wait_workers: bool = True,
        **options,
    ) -> Stack:
        """A stack under the next prefix: workers spawned, then ingest started and ready, then
        (``wait_workers``) the workers ready too."""
        options["extra_env"] = {**self.extra_env, **options.get("extra_env", {})}
        index = len(self.stacks)
        stack = Stack(
            bootstrap=bootstrap or self.default_bootstrap(),
            prefix=f"{self.prefix}{index}.",
            workdir=self.workdir / f"stack-{index}",
            **options,
        )
        stack.workdir.mkdir(parents=True)
        self.stacks.append(stack)
        for _ in range(workers):
            stack.start_worker(wait=False)
        if ingest:
            stack.start_ingest()
        if wait_workers:
            stack.wait_all_ready()
        return stack

    def stop_all(self, show_logs: bool = False) -> None:
        for stack in self.stacks:
            stack.stop()
            if show_logs:
                print(f"logs of {stack.prefix}: {stack.workdir}")
