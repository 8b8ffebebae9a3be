"""/v1/kpis refuses an as_of whose window starts before the retention horizon (design §8).

The horizon is the first UTC day a partition keeps; a window starting earlier would be summed
from a part of its days, so the worker answers 400 naming the horizon instead. /metrics (at
now) is not concerned: its windows start after the horizon while stream time follows the clock.
"""

from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from events.settings import Settings
from projections.query import KpiQuery, QueryError, check_retained
from projections.timebase import BucketGrid
from streams.app import create_app
from streams.retention import APPLY_CLOCK_KEY, advance_clock
from streams.routing import partition_of
from tests.support.factories import us

HORIZON = 20_454  # 2026-01-01
HORIZON_TEXT = "2026-01-01T00:00:00Z"


def query(window: str, as_of: str) -> KpiQuery:
    return KpiQuery("team", "t-1", window, datetime.fromisoformat(as_of))


@pytest.mark.parametrize(
    ("window", "as_of", "zone"),
    [
        ("1h", "2026-01-01T00:10:00Z", "UTC"),
        ("24h", "2026-01-01T23:59:00Z", "UTC"),
        ("7d", "2026-01-07T00:00:00Z", "UTC"),
        ("30d", "2026-01-30T12:00:00Z", "UTC"),
        ("mtd", "2026-01-15T00:00:00Z", "UTC"),
        ("qtd", "2026-03-31T23:00:00Z", "UTC"),
        ("qtd", "2026-02-01T00:00:00Z", "America/New_York"),
        ("1h", "2026-01-01T00:10:00Z", "Asia/Kathmandu"),
    ],
)
def test_a_window_starting_at_or_after_the_horizon_is_answered(window, as_of, zone):
    check_retained(query(window, as_of), BucketGrid(zone), HORIZON)


@pytest.mark.parametrize(
    ("window", "as_of", "zone", "start"),
    [
        ("1h", "2025-12-31T23:59:00Z", "UTC", "2025-12-31T23:00:00Z"),
        ("24h", "2026-01-01T22:00:00Z", "UTC", "2025-12-31T23:00:00Z"),
        ("7d", "2026-01-06T12:00:00Z", "UTC", "2025-12-31T00:00:00Z"),
        ("30d", "2026-01-29T12:00:00Z", "UTC", "2025-12-31T00:00:00Z"),
        ("qtd", "2026-03-31T12:00:00Z", "Europe/Paris", "2025-12-31T23:00:00Z"),
        ("mtd", "2026-01-01T12:00:00Z", "Asia/Kathmandu", "2025-12-31T18:15:00Z"),
        ("qtd", "2025-12-31T12:00:00Z", "UTC", "2025-10-01T00:00:00Z"),
    ],
)
def test_a_window_starting_before_the_horizon_is_refused_naming_it(window, as_of, zone, start):
    with pytest.raises(QueryError) as refused:
        check_retained(query(window, as_of), BucketGrid(zone), HORIZON)
    assert f"starts at {start}, before the retention horizon {HORIZON_TEXT}" in str(refused.value)


def test_without_a_horizon_every_window_is_answered():
    check_retained(query("qtd", "1970-01-01T00:00:00Z"), BucketGrid("UTC"), None)


@pytest.fixture
async def retaining_worker(tmp_path):
    """A worker's web app owning team t-1, whose partition's horizon is ``HORIZON``; yields the
    test client and the ownership (a test says whether the key is known)."""
    settings = Settings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path, partitions=4)
    app = create_app(settings)
    app.web.init_server()
    ownership = app.salespulse.ownership
    ownership.is_ready = lambda: True
    ownership.owns = ownership.is_known = lambda key: True
    engine = app.state_engine
    partition = partition_of("team|t-1", 4)
    advance_clock(
        engine.table("day_ix", partition), APPLY_CLOCK_KEY, us("2026-04-11T10:00:00Z"), 100
    )
    client = TestClient(TestServer(app.web.web_app))
    await client.start_server()
    yield client, ownership
    await client.close()
    engine.close()


PARAMS = {"scope": "team", "id": "t-1", "window": "30d"}


async def test_the_worker_answers_400_beyond_its_partitions_horizon_and_200_inside(
    retaining_worker,
):
    client, _ = retaining_worker
    old = await client.get("/v1/kpis", params={**PARAMS, "as_of": "2026-01-20T00:00:00Z"})
    recent = await client.get("/v1/kpis", params={**PARAMS, "as_of": "2026-03-01T00:00:00Z"})
    assert old.status == 400
    error = (await old.json())["error"]
    assert error["code"] == "beyond_retention"
    assert HORIZON_TEXT in error["message"]
    assert recent.status == 200
    assert (await recent.json())["kpis"]["open_deals"] == 0


async def test_a_key_retention_forgot_is_beyond_retention_for_an_old_window_and_unknown_after(
    retaining_worker,
):
    client, ownership = retaining_worker
    ownership.is_known = lambda key: False
    old = await client.get("/v1/kpis", params={**PARAMS, "as_of": "2026-01-20T00:00:00Z"})
    recent = await client.get("/v1/kpis", params={**PARAMS, "as_of": "2026-03-01T00:00:00Z"})
    assert (old.status, (await old.json())["error"]["code"]) == (400, "beyond_retention")
    assert (recent.status, (await recent.json())["error"]["code"]) == (404, "unknown_key")
