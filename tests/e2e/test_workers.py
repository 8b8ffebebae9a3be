"""Two workers: exact answers from either one, and every KPI series exported by exactly one."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from events.demo import DemoCompany
from events.models import EventPolicy, validate_event
from projections.recompute import recompute
from projections.timebase import BucketGrid
from tests.support.golden import golden_expected, post_golden_through_api
from tests.support.kpis import compare_all, eventually, scrape_kpi_series

pytestmark = pytest.mark.e2e


@pytest.mark.stack(workers=2)
def test_either_of_two_workers_answers_every_golden_kpi_exactly(own_stack):
    stack = own_stack
    expected = golden_expected()

    post_golden_through_api(stack.ingest.url)

    for worker in stack.workers:
        problems = eventually(
            lambda w=worker: compare_all(w.url, expected["kpis"], expected["as_of"])
        )
        assert problems == [], worker.name


def expected_series(events: list[dict], now: datetime) -> dict[tuple[str, str, str, str], float]:
    policy = EventPolicy(clock=lambda: now)
    store = recompute([validate_event(e, policy) for e in events], BucketGrid("UTC"))
    series = {}
    for key, kpis in store.report_all(now).items():
        scope, scope_id, window = key.split("|")
        for name, value in kpis.items():
            series[(name, scope, scope_id, window)] = float(value)
    return series


@pytest.mark.stack(workers=2)
def test_each_live_kpi_series_is_exported_by_exactly_one_of_two_workers(own_stack):
    stack = own_stack
    company = DemoCompany(now=datetime.now(UTC), seed=3)
    events = company.backfill(days=3) + company.live(datetime.now(UTC), 20)
    with httpx.Client(base_url=stack.ingest.url, timeout=30) as client:
        for start in range(0, len(events), 1000):
            assert client.post("/v1/events", json=events[start : start + 1000]).status_code == 202

    def check() -> list[str]:
        scraped = [scrape_kpi_series(worker.url) for worker in stack.workers]
        want = expected_series(events, datetime.now(UTC))
        problems = [f"{key} on both workers" for key in scraped[0].keys() & scraped[1].keys()]
        union = {**scraped[0], **scraped[1]}
        problems += [f"{key} missing" for key in want.keys() - union.keys()]
        problems += [f"{key} unexpected" for key in union.keys() - want.keys()]
        problems += [
            f"{key}: got {union[key]}, want {value}"
            for key, value in want.items()
            if key in union and abs(union[key] - value) > 1e-9 * max(1, abs(value))
        ]
        return problems[:20]

    assert eventually(check) == []
    assert all(scrape_kpi_series(worker.url) for worker in stack.workers), "both workers own keys"
