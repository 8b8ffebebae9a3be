"""``bench pipeline`` reads how long kpi-deltas waited before the apply from the worker's own
metrics page."""

import math
import time

from prometheus_client import CollectorRegistry, generate_latest

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
