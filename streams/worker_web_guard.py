"""What every request to a worker's web server goes through, whichever view answers it.

* Faust's own views (``/table/<name>/<key>/`` dumps whole deals, ``/router/``, the statistics,
  assignment and graph pages) are not served at all: the app turns them off, but Faust's
  ``APP_WEB_*_ENABLED`` environment variables override an app's settings, so their blueprints are
  dropped here too (``streams.faust_ext.web_server``).
* With a read token, every route but the probes (/healthz, /readyz) needs
  ``Authorization: Bearer <token>`` (compared in constant time): a view added later, by salespulse
  or by Faust, cannot forget the check. Unknown paths answer 401 as well, so that a client without
  the token learns nothing about which routes exist.
* Errors answer ``{"error": {"code", "message"}}``: aiohttp's own 404/405 too, and an unexpected
  exception in a view is logged and answered with a JSON 500 rather than a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from events.auth import BEARER_CHALLENGE, bearer_matches
from streams.faust_ext.web_server import add_middleware, serve_only_own_views

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Routes a probe (kubelet, load balancer) calls without credentials."""
UNAUTHORIZED = "missing or wrong 'Authorization: Bearer <token>'"
INTERNAL = "the worker could not answer this request; the details are in its log"
log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


def guard_web_app(app: Any, secret: str | None) -> None:
    """Serve only the Faust app's own views, behind the token check and the JSON error answers.

    Call before the web server starts (``create_app`` time): blueprints are applied and
    middlewares frozen when it does.
    """
    serve_only_own_views(app)
    add_middleware(app, _middleware(secret))


def _middleware(secret: str | None):
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not (_is_open(request) or _authorized(request, secret)):
            headers = {"WWW-Authenticate": BEARER_CHALLENGE}
            return error_response(401, "unauthorized", UNAUTHORIZED, headers)
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _http_error(exc)
        except Exception:
            log.exception("unexpected error answering %s %r", request.method, request.path)
            return error_response(500, "internal", INTERNAL)

    return guard


def _authorized(request: web.Request, secret: str | None) -> bool:
    return secret is None or bearer_matches(request.headers.get("Authorization"), secret)


def _is_open(request: web.Request) -> bool:
    """Whether the route that will answer is a probe (decided by the route, not the raw path)."""
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical in OPEN_PATHS


def _http_error(exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (no such route, method not allowed) in the API's error shape."""
    code = (exc.reason or "error").lower().replace(" ", "_")
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, exc.reason or code, headers)
