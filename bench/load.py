"""HTTP load for the ingest and freshness benchmarks: closed-loop throughput, open-loop latency.

aiohttp's client (a dependency of Faust already) is used, not httpx: it costs the client process
far less CPU per request, which matters on a 2-CPU machine that also runs the server and Kafka.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx

from tests.support.polling import wait_until
from tests.support.stack import Service, free_port

HEADERS = {"Content-Type": "application/json"}


@dataclass
class Throughput:
    requests: int = 0
    failures: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


async def closed_loop(
    url: str, bodies: Sequence[bytes], concurrency: int, seconds: float
) -> Throughput:
    """``concurrency`` clients POSTing bodies back to back for ``seconds``."""
    result = Throughput()
    cycle = itertools.cycle(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < deadline:
                async with session.post(url, data=next(cycle), headers=HEADERS) as answer:
                    await answer.read()
                    result.statuses[answer.status] = result.statuses.get(answer.status, 0) + 1
                    if answer.status == 202:
                        result.requests += 1
                    else:
                        result.failures += 1

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        result.seconds = time.monotonic() - started
    return result


async def open_loop(
    url: str, bodies: Sequence[bytes], per_second: float, seconds: float
) -> tuple[list[float], int]:
    """POST at a fixed rate whatever the answers (no coordinated omission): latencies measured
    from each request's scheduled start to its complete answer, and the number of failures."""
    latencies: list[float] = []
    failures = 0
    cycle = itertools.cycle(bodies)
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes, scheduled: float) -> None:
            nonlocal failures
            try:
                async with session.post(url, data=body, headers=HEADERS) as answer:
                    await answer.read()
                    ok = answer.status == 202
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append(time.monotonic() - scheduled)
            else:
                failures += 1

        tasks = []
        started = time.monotonic()
        for i in range(int(per_second * seconds)):
            scheduled = started + i / per_second
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(next(cycle), scheduled)))
        await asyncio.gather(*tasks)
    return latencies, failures


def start_trivial(workdir: Path) -> Service:
    """The baseline server (``bench.trivial_server``) as its own process, ready."""
    from bench.infra import REPO

    port = free_port()
    log_path = workdir / "trivial.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.trivial_server", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    service = Service("trivial", f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until(
            lambda: httpx.get(f"{service.url}/readyz", timeout=1).status_code == 200,
            30,
            0.1,
            "trivial server ready",
            retry_on=(httpx.TransportError,),
            details=service.log_tail,
        )
    except BaseException:
        service.stop()
        raise
    return service
