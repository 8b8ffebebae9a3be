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
from typing import TYPE_CHECKING, Any

import aiohttp
import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from events.errors import http_status
from projections.kpi_exposition import render_registry
from projections.query import (
    KpiQuery,
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

if TYPE_CHECKING:
    from events.settings import Settings
    from streams.app import WorkerContext
    from streams.ownership import Ownership

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


def register_views(app: faust.App, worker: WorkerContext) -> None:
    """Serve the worker's routes on ``app``'s web server, behind the guard; call at build time."""
    settings, ownership = worker.settings, worker.ownership
    secret = read_secret(settings)
    guard_web_app(app, secret)
    peers = Peers(app, PeerHosts(settings.peer_host_patterns), forwarding_headers(secret))
    app.page("/metrics")(metrics_view(worker.registry))
    app.page("/healthz")(health_view(ownership, Liveness(settings.worker_stuck_after_s)))
    app.page("/readyz")(ready_view(ownership))
    app.page("/v1/kpis")(kpis_view(ownership, peers))
    app.page("/v1/keys")(keys_view(ownership, peers))


def read_secret(settings: Settings) -> str | None:
    token = settings.worker_read_token
    return token.get_secret_value() if token is not None else None


def forwarding_headers(secret: str | None) -> dict[str, str]:
    """The marker of a forwarded request, and the token every worker shares (if any)."""
    headers = {FORWARDED: "1"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return headers


class Peers:
    """Calls to the other workers of the group: allowed hosts only, marked as forwarded."""

    def __init__(self, app: faust.App, hosts: PeerHosts, headers: dict[str, str]) -> None:
        self._app, self._hosts, self._headers = app, hosts, headers

    def allows(self, url: str) -> bool:
        return self._hosts.allows(url)

    async def get(self, url: str) -> tuple[int, bytes]:
        """GET ``url`` on a peer with the forwarding headers; redirects are not followed."""
        async with self._app.http_client.get(
            url, headers=self._headers, timeout=PEER_TIMEOUT, allow_redirects=False
        ) as answer:
            return answer.status, await answer.read()

    async def keys(self, urls: list[str], query_string: str) -> tuple[list[dict[str, str]], bool]:
        """The keys each peer lists, asked once each, and whether every one of them answered."""
        found: list[dict[str, str]] = []
        complete = True
        for url in urls:
            listed = await self._keys_of(url, query_string)
            complete = complete and listed is not None
            found += listed or []
        return found, complete

    async def _keys_of(self, url: str, query_string: str) -> list[dict[str, str]] | None:
        if not self.allows(url):
            return None
        try:
            status, body = await self.get(f"{url.rstrip('/')}/v1/keys?{query_string}")
            return _listed_keys(json.loads(body)) if status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("asking peer %r for its keys failed: %r", url, exc)
            return None


def metrics_view(registry: CollectorRegistry) -> type[View]:
    class Metrics(View):
        """The registry's text: KPI families joined from each key's cached lines (KpiCollector),
        operational metrics formatted by prometheus_client."""

        async def get(self, request: Request) -> Response:
            body = render_registry(registry)
            return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return Metrics


def health_view(ownership: Ownership, liveness: Liveness) -> type[View]:
    class Health(View):
        """503 once unready without replay progress for too long (``streams.liveness``)."""

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

    return Health


def ready_view(ownership: Ownership) -> type[View]:
    class Ready(View):
        async def get(self, request: Request) -> Response:
            if not ownership.is_ready():
                return error_response(503, "not_ready", NOT_READY)
            return self.json(
                {"status": "ready", "partitions": sorted(ownership.owned_partitions())}
            )

    return Ready


def kpis_view(ownership: Ownership, peers: Peers) -> type[View]:
    class Kpis(View):
        """Answered here for an owned key, else forwarded once to its owner."""

        async def get(self, request: Request) -> Response:
            try:
                query = parse_kpi_query(request.query, datetime.now(UTC))
            except QueryError as exc:
                return error_response(http_status(exc), "bad_request", str(exc))
            if not ownership.owns(query.key):
                return await forwarded_kpis(self, request, query.key, ownership, peers)
            return owned_kpis(self, query, ownership)

    return Kpis


def owned_kpis(view: View, query: KpiQuery, ownership: Ownership) -> Response:
    try:  # first: a key retention forgot is unknown, but its window is what is wrong
        check_retained(query, ownership.grid, ownership.horizon_day(query.key))
    except QueryError as exc:
        return error_response(http_status(exc), "beyond_retention", str(exc))
    if not ownership.is_known(query.key):
        return error_response(
            404, "unknown_key", f"no KPIs for scope={query.scope} id={query.scope_id!r}"
        )
    kpis = ownership.read_kpis(query.key, query.window, query.as_of)
    return view.json(kpi_answer(query, kpis))


async def forwarded_kpis(
    view: View, request: Request, key: str, ownership: Ownership, peers: Peers
) -> Response:
    """The owner's answer, relayed as it is; 503 when it cannot or must not be asked."""
    owner = ownership.owner_url(key)
    if (
        request.headers.get(FORWARDED)
        or owner is None
        or owner == ownership.my_url()
        or not peers.allows(owner)
    ):
        return error_response(503, "owner_unavailable", OWNER_UNAVAILABLE)
    try:
        status, body = await peers.get(f"{owner.rstrip('/')}/v1/kpis?{request.query_string}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The owner's address stays in the log: it is no business of the client's.
        log.warning("forwarding /v1/kpis to %r failed: %r", owner, exc)
        return error_response(503, "owner_unavailable", OWNER_UNAVAILABLE)
    return view.bytes(body, status=status, headers={"Content-Type": "application/json"})


def keys_view(ownership: Ownership, peers: Peers) -> type[View]:
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
                return error_response(http_status(exc), "bad_request", str(exc))
            if not ownership.is_ready():
                return error_response(503, "not_ready", NOT_READY)
            keys = key_listing(ownership.owned_keys(), scope)
            if request.headers.get(FORWARDED):
                return self.json({"keys": keys, "complete": False})
            found, complete = await peers.keys(ownership.peer_urls(), request.query_string)
            keys += found
            keys.sort(key=lambda item: (item["scope"], item["id"]))
            return self.json({"keys": keys, "complete": complete})

    return Keys
