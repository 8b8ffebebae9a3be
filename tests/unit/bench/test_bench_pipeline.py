"""``bench pipeline`` reads how long kpi-deltas waited before the apply from the worker's own
metrics page, and the worker's CPU time from /proc."""

import math
import os
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bench.infra import cpu_seconds, cpu_seconds_of
from bench.pipeline import apply_wait_of
from streams.telemetry import WorkerTelemetry


def metrics_page(waits_by_agent: dict[str, list[float]]) -> str:
    registry = CollectorRegistry()
    telemetry = WorkerTelemetry(registry)
    now = time.time()
    for agent, waits in waits_by_agent.items():
        telemetry.batch_done(agent, [now - wait for wait in waits])
    return generate_latest(registry).decode()


def test_the_apply_wait_counts_only_the_apply_agents_messages():
    page = metrics_page({"apply-kpis": [2.0, 7.0, 3.0], "fold-deals": [40.0]})

    waited = apply_wait_of(page)

    assert waited.messages == 3
    assert waited.within_5_s == 2
    assert math.isclose(waited.mean_s, 4.0, abs_tol=0.5)


def test_a_worker_that_applied_nothing_has_no_mean_wait():
    waited = apply_wait_of(metrics_page({"fold-deals": [1.0]}))

    assert waited.messages == 0 and waited.within_5_s == 0
    assert math.isnan(waited.mean_s)


@pytest.mark.parametrize(
    ("command", "expected"),
    [("salespulse", 1.5), ("a) (b c", 1.5), ("python3", 0.0)],
)
def test_cpu_seconds_are_user_plus_system_ticks_whatever_the_command_name(command, expected):
    utime, stime = (100, 50) if expected else (0, 0)
    stat = f"4242 ({command}) S 1 4242 4242 0 -1 4194304 1 0 0 0 {utime} {stime} 0 0 20 0 9 0"
    assert cpu_seconds_of(stat, 100) == expected


def test_the_cpu_of_this_process_is_read_from_proc_and_grows_with_work():
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) > before
