"""A worker's calls to its peers (forwarded /v1/kpis, /v1/keys), against a fake peer in-process.

Peer URLs come from the consumer group's metadata, which anyone able to join the group writes:
the worker must call only allowed hosts, never trust the forwarding marker to claim a complete
listing, and never tell a client a peer's address.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp
import faust
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from events.settings import Settings
from projections.timebase import BucketGrid
from streams.peer_hosts import PeerHosts
from streams.web import FORWARDED, OWNER_UNAVAILABLE, register_views

TOKEN = "worker-read-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
KPI_QUERY = {"scope": "team", "id": "team-9", "window": "24h"}
PEER_KPIS = {"scope": "team", "id": "team-9", "window": "24h", "as_of": "x", "kpis": {"n": 1}}


@dataclass
class FakePeer:
    """A peer worker: answers /v1/kpis and /v1/keys, and records every request's headers."""

    keys_body: object = field(default_factory=lambda: {"keys": [{"scope": "team", "id": "b"}]})
    seen: list[dict[str, str]] = field(default_factory=list)

    def application(self) -> web.Application:
        async def kpis(request: web.Request) -> web.Response:
            self.seen.append(dict(request.headers))
            return web.json_response(PEER_KPIS)

        async def keys(request: web.Request) -> web.Response:
            self.seen.append(dict(request.headers))
            return web.json_response(self.keys_body)

        application = web.Application()
        application.router.add_get("/v1/kpis", kpis)
        application.router.add_get("/v1/keys", keys)
        return application


@dataclass
class FakeOwnership:
    """A ready worker that owns ``team|a`` only; every other key and peer is at ``peer_url``."""

    peer_url: str

    def is_ready(self) -> bool:
        return True

    is_recovered = is_ready

    def owned_partitions(self) -> set[int]:
        return {0}

    def owns(self, key: str) -> bool:
        return key == "team|a"

    def owned_keys(self):
        return iter(["team|a"])

    def is_known(self, key: str) -> bool:
        return False

    def owner_url(self, key: str) -> str:
        return self.peer_url

    def peer_urls(self) -> list[str]:
        return [self.peer_url]

    def my_url(self) -> str:
        return "http://127.0.0.1:1"


@pytest.fixture
async def make_peer() -> AsyncIterator[Callable]:
    """Factory: ``await make_peer(**FakePeer fields)`` is a running fake peer and its URL."""
    servers: list[TestServer] = []

    async def start(**fields) -> tuple[FakePeer, str]:
        peer = FakePeer(**fields)
        server = TestServer(peer.application(), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return peer, str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def make_worker(tmp_path) -> AsyncIterator[Callable]:
    """Factory: ``await make_worker(peer_url, **settings)`` is a test client of a worker's views
    whose only peer (and owner of every key but ``team|a``) is ``peer_url``."""
    clients: list[TestClient] = []

    async def start(peer_url: str, **overrides) -> TestClient:
        settings = Settings(kafka_bootstrap="127.0.0.1:9", worker_read_token=TOKEN, **overrides)
        app = faust.App(f"web-peers-{len(clients)}", datadir=str(tmp_path))
        app.http_client = aiohttp.ClientSession()
        worker = SimpleNamespace(
            ownership=FakeOwnership(peer_url),
            pipeline=SimpleNamespace(grid=BucketGrid()),
            settings=settings,
            registry=CollectorRegistry(),
        )
        register_views(app, worker)
        app.web.init_server()
        client = TestClient(TestServer(app.web.web_app))
        await client.start_server()
        client.faust_app = app
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
        await client.faust_app.http_client.close()


async def test_an_allowed_peer_gets_the_forwarded_request_with_the_token(make_peer, make_worker):
    peer, url = await make_peer()
    client = await make_worker(url)

    kpis = await client.get("/v1/kpis", params=KPI_QUERY, headers=BEARER)
    listing = await client.get("/v1/keys", headers=BEARER)

    assert kpis.status == 200 and await kpis.json() == PEER_KPIS
    assert await listing.json() == {
        "keys": [{"scope": "team", "id": "a"}, {"scope": "team", "id": "b"}],
        "complete": True,
    }
    assert [(h["Authorization"], h[FORWARDED]) for h in peer.seen] == [
        (BEARER["Authorization"], "1")
    ] * 2


async def test_a_peer_outside_the_allowed_hosts_gets_no_request_and_counts_as_unavailable(
    make_peer, make_worker, caplog
):
    peer, url = await make_peer()
    client = await make_worker(url, worker_peer_hosts="worker-*,*.svc.cluster.local")

    with caplog.at_level(logging.WARNING, logger="streams.peer_hosts"):
        kpis = [await client.get("/v1/kpis", params=KPI_QUERY, headers=BEARER) for _ in "ab"]
        listing = await client.get("/v1/keys", headers=BEARER)

    assert [answer.status for answer in kpis] == [503, 503]
    assert (await kpis[0].json())["error"] == {
        "code": "owner_unavailable",
        "message": OWNER_UNAVAILABLE,
    }
    assert await listing.json() == {"keys": [{"scope": "team", "id": "a"}], "complete": False}
    assert peer.seen == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "streams.peer_hosts"]
    assert len(warnings) == 1 and url in warnings[0]


@pytest.mark.parametrize("marker", ["1", "yes"])
async def test_a_forged_forwarded_header_does_not_mark_a_partial_listing_complete(
    make_peer, make_worker, marker
):
    peer, url = await make_peer()
    client = await make_worker(url)

    listing = await client.get("/v1/keys", headers={**BEARER, FORWARDED: marker})

    assert await listing.json() == {"keys": [{"scope": "team", "id": "a"}], "complete": False}
    assert peer.seen == []


async def test_a_peer_claiming_its_part_is_complete_does_not_hide_a_missing_one(
    make_peer, make_worker
):
    _, url = await make_peer(keys_body={"keys": [], "complete": True})
    client = await make_worker(url)

    listing = await client.get("/v1/keys", headers=BEARER)

    assert await listing.json() == {"keys": [{"scope": "team", "id": "a"}], "complete": True}


@pytest.mark.parametrize(
    "keys_body",
    [[1, 2], {"keys": "all"}, {"keys": [{"scope": 1, "id": "x"}]}, {"keys": ["team|b"]}, "no"],
)
async def test_a_peer_answering_something_else_than_a_listing_counts_as_unavailable(
    make_peer, make_worker, keys_body
):
    _, url = await make_peer(keys_body=keys_body)
    client = await make_worker(url)

    listing = await client.get("/v1/keys", headers=BEARER)

    assert listing.status == 200
    assert await listing.json() == {"keys": [{"scope": "team", "id": "a"}], "complete": False}


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_failed_forward_is_a_503_that_does_not_name_the_owner(make_worker, caplog):
    dead_owner = f"http://127.0.0.1:{unused_port()}"
    client = await make_worker(dead_owner)

    with caplog.at_level(logging.WARNING, logger="streams.web"):
        answer = await client.get("/v1/kpis", params=KPI_QUERY, headers=BEARER)

    body = await answer.text()
    assert answer.status == 503
    assert (await answer.json())["error"] == {
        "code": "owner_unavailable",
        "message": OWNER_UNAVAILABLE,
    }
    assert "127.0.0.1" not in body
    assert any(dead_owner in r.getMessage() for r in caplog.records if r.name == "streams.web")


@pytest.mark.parametrize(
    ("url", "patterns", "allowed"),
    [
        ("http://127.0.0.1:6066", "127.0.0.1,localhost,::1", True),
        ("http://LOCALHOST:6067/", "127.0.0.1,localhost,::1", True),
        ("http://[::1]:6066", "127.0.0.1,localhost,::1", True),
        ("https://worker-2:6066", "worker-*", True),
        (
            "http://worker-0.workers.ns.svc.cluster.local:6066",
            "*.workers.ns.svc.cluster.local",
            True,
        ),
        ("http://10.0.3.7:6066", "10.0.*.*", True),
        ("http://worker-1.attacker.example:6066", "worker-*", False),
        ("http://127.0.0.1@attacker.example/", "127.0.0.1", False),
        ("http://169.254.169.254/latest/meta-data", "127.0.0.1,localhost,::1", False),
        ("ftp://127.0.0.1/", "127.0.0.1", False),
        ("127.0.0.1:6066", "127.0.0.1", False),
        ("not a url", "*", False),
        ("", "*", False),
    ],
)
def test_a_peer_is_called_only_when_its_host_matches_an_allowed_pattern(url, patterns, allowed):
    assert PeerHosts(patterns.split(",")).allows(url) is allowed
