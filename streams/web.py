"""A worker's HTTP endpoints, served by Faust's web server: /metrics, /v1/kpis, health.

``/v1/kpis`` is answered by the worker that owns the key; any other worker forwards the request
once (marked with a header, so a request never bounces between workers during a rebalance).

With ``worker_read_token`` set, /metrics and /v1/kpis answer 401 unless the request carries
``Authorization: Bearer <token>`` (compared in constant time); /healthz and /readyz stay open for
probes. A forwarded /v1/kpis request carries the worker's own token: all workers share it.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from events.auth import BEARER_CHALLENGE, bearer_matches
from projections.query import (
    QueryError,
    key_listing,
    kpi_answer,
    parse_kpi_query,
    parse_scope_filter,
)
from projections.readout import read_kpis
from streams.liveness import Liveness

FORWARDED = "X-Salespulse-Forwarded"
NOT_READY = "rebalancing, recovering tables or catching up with the log"
log = logging.getLogger(__name__)


def _recovery_remaining(app: faust.App) -> int | None:
    """Changelog records table recovery still has to read, if Faust knows yet."""
    try:
        return int(app.tables.recovery.active_remaining_total())
    except (AttributeError, KeyError, TypeError):
        return None


def register_views(app: faust.App, worker: Any) -> None:
    ownership = worker.ownership
    grid = worker.pipeline.grid
    token = worker.settings.worker_read_token
    secret = token.get_secret_value() if token is not None else None
    forward_headers = {FORWARDED: "1"}
    if secret is not None:
        forward_headers["Authorization"] = f"Bearer {secret}"

    def error(
        view: View, status: int, code: str, message: str, headers: dict | None = None
    ) -> Response:
        return view.json(
            {"error": {"code": code, "message": message}}, status=status, headers=headers
        )

    def unauthorized(view: View, request: Request) -> Response | None:
        """A 401 unless reads are open or the request carries the read token."""
        if secret is None or bearer_matches(request.headers.get("Authorization"), secret):
            return None
        return error(
            view,
            401,
            "unauthorized",
            "missing or wrong 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": BEARER_CHALLENGE},
        )

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            if (refusal := unauthorized(self, request)) is not None:
                return refusal
            body = generate_latest(worker.registry)
            return self.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    liveness = Liveness(worker.settings.worker_stuck_after_s)

    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            now = time.monotonic()
            liveness.observe(now, ownership.is_recovered(), _recovery_remaining(app))
            if liveness.is_stuck(now):
                stuck_s = liveness.stuck_for(now)
                log.error("unready without table-recovery progress for %.0fs", stuck_s)
                return error(
                    self,
                    503,
                    "stuck",
                    f"unready without table-recovery progress for {stuck_s:.0f}s; restart me",
                )
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            if not ownership.is_ready():
                return error(self, 503, "not_ready", NOT_READY)
            return self.json(
                {"status": "ready", "partitions": sorted(ownership.owned_partitions())}
            )

    @app.page("/v1/kpis")
    class Kpis(View):
        async def get(self, request: Request) -> Response:
            if (refusal := unauthorized(self, request)) is not None:
                return refusal
            try:
                query = parse_kpi_query(request.query, datetime.now(UTC))
            except QueryError as exc:
                return error(self, 400, "bad_request", str(exc))
            if not ownership.owns(query.key):
                return await self._forward(request, query.key)
            if not ownership.is_known(query.key):
                return error(
                    self,
                    404,
                    "unknown_key",
                    f"no KPIs for scope={query.scope} id={query.scope_id!r}",
                )
            kpis = read_kpis(ownership.lookup, query.key, query.window, query.as_of, grid)
            return self.json(kpi_answer(query, kpis))

        async def _forward(self, request: Request, key: str) -> Response:
            owner = ownership.owner_url(key)
            if request.headers.get(FORWARDED) or owner is None or owner == ownership.my_url():
                return error(
                    self,
                    503,
                    "owner_unavailable",
                    "the worker owning this key is not available; retry shortly",
                )
            url = f"{owner.rstrip('/')}{request.path}?{request.query_string}"
            try:
                async with app.http_client.get(url, headers=forward_headers) as answer:
                    body = await answer.read()
                    return self.bytes(
                        body, status=answer.status, headers={"Content-Type": "application/json"}
                    )
            except aiohttp.ClientError as exc:
                return error(self, 503, "owner_unavailable", f"forwarding failed: {exc}")

    @app.page("/v1/keys")
    class Keys(View):
        """Every known (scope, id), for tools that list or rank (``salespulse kpis``).

        A worker lists the keys it owns and, unless the request was forwarded, asks every other
        worker of the group once for theirs; ``complete`` is false when one could not answer.
        """

        async def get(self, request: Request) -> Response:
            if (refusal := unauthorized(self, request)) is not None:
                return refusal
            try:
                scope = parse_scope_filter(request.query)
            except QueryError as exc:
                return error(self, 400, "bad_request", str(exc))
            if not ownership.is_ready():
                return error(self, 503, "not_ready", NOT_READY)
            keys = key_listing(ownership.owned_keys(), scope)
            complete = True
            if not request.headers.get(FORWARDED):
                for url in ownership.peer_urls():
                    peer = await self._peer_keys(url, request.query_string)
                    complete = complete and peer is not None
                    keys += peer or []
            keys.sort(key=lambda item: (item["scope"], item["id"]))
            return self.json({"keys": keys, "complete": complete})

        async def _peer_keys(self, url: str, query_string: str) -> list | None:
            try:
                async with app.http_client.get(
                    f"{url.rstrip('/')}/v1/keys?{query_string}", headers=forward_headers
                ) as answer:
                    if answer.status != 200:
                        return None
                    return (await answer.json()).get("keys")
            except (aiohttp.ClientError, ValueError):
                return None
