"""Integration fixtures: the ingest app in-process against the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from events.ingest_api import create_ingest_app
from events.settings import Settings
from tests.support.kafka import create_event_topics


@pytest.fixture
async def make_ingest(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Callable]:
    """Factory: an httpx client talking to a fresh ingest app (real producer, real broker)."""
    apps = []

    async def build(**overrides) -> httpx.AsyncClient:
        fields = {
            "kafka_bootstrap": kafka_bootstrap,
            "topic_prefix": topic_prefix,
            "partitions": 4,
            **overrides,
        }
        settings = Settings(**fields)
        await create_event_topics(kafka_bootstrap, topic_prefix)
        app = create_ingest_app(settings)
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")

    yield build
    for app in apps:
        await app.state.publisher.close()
