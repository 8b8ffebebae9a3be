"""The worker's hold on Faust's web server: only its own views, behind its own middleware.

Faust serves built-in views (``/table/<name>/<key>/`` dumps whole deals, ``/router/`` forwards
anywhere, statistics and graphs) from blueprints that its ``APP_WEB_*_ENABLED`` environment
variables turn back on whatever the app's settings say; the only way to drop them is to replace
the web driver's blueprint manager. Middlewares go on the aiohttp application of Faust's aiohttp
driver. Both must happen before the server starts (``create_app`` time): blueprints are applied
and middlewares frozen when it does.
"""

from __future__ import annotations

from typing import Any

from aiohttp.typedefs import Middleware
from faust.web.base import BlueprintManager


def serve_only_own_views(app: Any) -> None:
    """No Faust blueprint is applied: the server has the routes the app's pages add."""
    app.web.blueprints = BlueprintManager()


def add_middleware(app: Any, middleware: Middleware) -> None:
    """Run ``middleware`` around every request to the app's web server, views added later too."""
    app.web.web_app.middlewares.append(middleware)
