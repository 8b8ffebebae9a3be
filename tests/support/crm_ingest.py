"""Ingest apps with their lifespan running, so that the CRM delivery interpreter works.

``httpx.ASGITransport`` does not run an app's lifespan; webhook tests need it, since a webhook
only stores its delivery and the interpreter started by the lifespan publishes the events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from events.ingest_api import create_ingest_app
from events.settings import Settings
from tests.support.kafka import create_event_topics


class Ingests:
    """Ingest apps with their lifespan running (interpreter started), each behind a client."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap, self.prefix = bootstrap, prefix
        self.running: dict[httpx.AsyncClient, AsyncExitStack] = {}
        self.apps: dict[httpx.AsyncClient, FastAPI] = {}
        """The app behind each client, kept after it stopped (its state can be inspected)."""

    async def start(self, **overrides) -> httpx.AsyncClient:
        fields = {
            "kafka_bootstrap": self.bootstrap,
            "topic_prefix": self.prefix,
            "partitions": 4,
            **overrides,
        }
        await create_event_topics(self.bootstrap, self.prefix)
        app = create_ingest_app(Settings(**fields))
        stack = AsyncExitStack()
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://ingest")
        )
        self.running[client] = stack
        self.apps[client] = app
        return client

    async def stop(self, client: httpx.AsyncClient) -> None:
        await self.running.pop(client).aclose()


@asynccontextmanager
async def running_ingests(bootstrap: str, prefix: str) -> AsyncIterator[Ingests]:
    """Ingest apps started with ``start(**settings)``, all stopped on the way out."""
    started = Ingests(bootstrap, prefix)
    try:
        yield started
    finally:
        for client in list(started.running):
            await started.stop(client)
