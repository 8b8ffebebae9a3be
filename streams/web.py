"""A worker's HTTP endpoints, served by Faust's web server: /metrics, /v1/kpis, health.

``/v1/kpis`` is answered by the worker that owns the key; any other worker forwards the request
once (marked with a header, so a request never bounces between workers during a rebalance).

With ``worker_read_token`` set, every route but /healthz and /readyz answers 401 unless the request
carries ``Authorization: Bearer <token>`` (``streams.worker_web_guard``). A forwarded request
carries the worker's own token (all workers share it), so it is sent only to peers whose host is in
``worker_peer_hosts`` (``streams.peer_hosts``): peer URLs come from the consumer group's metadata,
which is not authenticated. The forwarding marker is not authenticated either: it can only make a
worker answer less (a 503, or a key listing marked incomplete), never more.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from projections.kpi_exposition import render_registry
from projections.query import (
    QueryError,
    check_retained,
    key_listing,
    kpi_answer,
    parse_kpi_query,
    parse_scope_filter,
)
from streams.liveness import Liveness
from streams.peer_hosts import PeerHosts
from streams.worker_web_guard import error_response, guard_web_app

FORWARDED = "X-Salespulse-Forwarded"
NOT_READY = "rebalancing, replaying its partitions or catching up with the log"
OWNER_UNAVAILABLE = "the worker owning this key is not available; retry shortly"
PEER_TIMEOUT = aiohttp.ClientTimeout(total=10)
"""One call to a peer worker; a hung peer must not hold the client's request forever."""
log = logging.getLogger(__name__)


def _listed_keys(body: Any) -> list[dict[str, str]] | None:
    """A peer's ``keys``, if its answer has the listing's shape (a peer is not trusted blindly)."""
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list):
        return None
    for item in keys:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("scope"), str)
            and isinstance(item.get("id"), str)
        ):
            return None
    return [{"scope": item["scope"], "id": item["id"]} for item in keys]


def register_views(app: faust.App, worker: Any) -> None:
    ownership = worker.ownership
    token = worker.settings.worker_read_token
    secret = token.get_secret_value() if token is not None else None
    peers = PeerHosts(worker.settings.peer_host_patterns)
    forward_headers = {FORWARDED: "1"}
    if secret is not None:
        forward_headers["Authorization"] = f"Bearer {secret}"
    guard_web_app(app.web, secret)

    async def call_peer(url: str) -> tuple[int, bytes]:
        """GET ``url`` on a peer with the forwarding headers; redirects are not followed."""
        async with app.http_client.get(
            url, headers=forward_headers, timeout=PEER_TIMEOUT, allow_redirects=False
        ) as answer:
            return answer.status, await answer.read()

    @app.page("/metrics")
    class Metrics(View):
        """The registry's text: KPI families joined from each key's cached lines (KpiCollector),
        operational metrics formatted by prometheus_client."""

        async def get(self, request: Request) -> Response:
            body = render_registry(worker.registry)
            return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    liveness = Liveness(worker.settings.worker_stuck_after_s)

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            now = time.monotonic()
            liveness.observe(now, ownership.is_recovered(), ownership.replay_remaining())
            if liveness.is_stuck(now):
                stuck_s = liveness.stuck_for(now)
                log.error("unready without replay progress for %.0fs", stuck_s)
                return error_response(
                    503,
                    "stuck",
                    f"unready without replay progress for {stuck_s:.0f}s; restart me",
                )
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            if not ownership.is_ready():
                return error_response(503, "not_ready", NOT_READY)
            return self.json(
                {"status": "ready", "partitions": sorted(ownership.owned_partitions())}
            )

    @app.page("/v1/kpis")
    class Kpis(View):
        async def get(self, request: Request) -> Response:
            try:
                query = parse_kpi_query(request.query, datetime.now(UTC))
            except QueryError as exc:
                return error_response(400, "bad_request", str(exc))
            if not ownership.owns(query.key):
                return await self._forward(request, query.key)
            try:  # first: a key retention forgot is unknown, but its window is what is wrong
                check_retained(query, ownership.grid, ownership.horizon_day(query.key))
            except QueryError as exc:
                return error_response(400, "beyond_retention", str(exc))
            if not ownership.is_known(query.key):
                return error_response(
                    404,
                    "unknown_key",
                    f"no KPIs for scope={query.scope} id={query.scope_id!r}",
                )
            kpis = ownership.read_kpis(query.key, query.window, query.as_of)
            return self.json(kpi_answer(query, kpis))

        async def _forward(self, request: Request, key: str) -> Response:
            owner = ownership.owner_url(key)
            if (
                request.headers.get(FORWARDED)
                or owner is None
                or owner == ownership.my_url()
                or not peers.allows(owner)
            ):
                return error_response(503, "owner_unavailable", OWNER_UNAVAILABLE)
            try:
                status, body = await call_peer(
                    f"{owner.rstrip('/')}/v1/kpis?{request.query_string}"
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The owner's address stays in the log: it is no business of the client's.
                log.warning("forwarding /v1/kpis to %r failed: %r", owner, exc)
                return error_response(503, "owner_unavailable", OWNER_UNAVAILABLE)
            return self.bytes(body, status=status, headers={"Content-Type": "application/json"})

    @app.page("/v1/keys")
    class Keys(View):
        """Every known (scope, id), for tools that list or rank (``salespulse kpis``).

        A worker lists the keys it owns and asks every other worker of the group once for theirs;
        ``complete`` is false when one could not answer. A request marked as forwarded gets only
        the keys this worker owns, so its answer is never complete: the asking worker uses only
        its ``keys``, and a client that sends the marker itself cannot pass a part for the whole.
        """

        async def get(self, request: Request) -> Response:
            try:
                scope = parse_scope_filter(request.query)
            except QueryError as exc:
                return error_response(400, "bad_request", str(exc))
            if not ownership.is_ready():
                return error_response(503, "not_ready", NOT_READY)
            keys = key_listing(ownership.owned_keys(), scope)
            if request.headers.get(FORWARDED):
                return self.json({"keys": keys, "complete": False})
            complete = True
            for url in ownership.peer_urls():
                peer = await self._peer_keys(url, request.query_string)
                complete = complete and peer is not None
                keys += peer or []
            keys.sort(key=lambda item: (item["scope"], item["id"]))
            return self.json({"keys": keys, "complete": complete})

        async def _peer_keys(self, url: str, query_string: str) -> list | None:
            if not peers.allows(url):
                return None
            try:
                status, body = await call_peer(f"{url.rstrip('/')}/v1/keys?{query_string}")
                return _listed_keys(json.loads(body)) if status == 200 else None
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("asking peer %r for its keys failed: %r", url, exc)
                return None
