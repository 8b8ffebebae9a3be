"""Every route of a worker's web server, served in-process with aiohttp's test server (no Kafka).

The app is the real worker app of ``streams.app.create_app``; its web server is initialised the
way Faust does at start (``init_server``: built-in blueprints, then the app's views), and the
routes are read back from the aiohttp router, so a route added later is covered without a change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from events.settings import Settings
from streams.app import create_app

TOKEN = "worker-read-token"
PROBES = {"/healthz", "/readyz"}
OWN_ROUTES = {"/metrics", "/healthz", "/readyz", "/v1/kpis", "/v1/keys"}
FAUST_VIEW_PATHS = [
    "/",
    "/table/",
    "/table/deals/",
    "/table/deals/d-1/",
    "/router/",
    "/router/deals/d-1/",
    "/assignment/",
    "/graph/",
    "/performance/",
    "/no/such/route",
]
FAUST_WEB_ENV = [
    "APP_WEB_TABLES_ENABLED",
    "APP_WEB_ROUTER_ENABLED",
    "APP_WEB_STATS_ENABLED",
    "APP_WEB_GRAPH_ENABLED",
    "APP_WEB_METRICS_ENABLED",
]


@pytest.fixture
def make_worker_app(tmp_path) -> Callable[..., faust.App]:
    """Factory: a worker app from ``Settings(**overrides)``, its web server initialised."""

    def build(**overrides) -> faust.App:
        settings = Settings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path / "state", **overrides)
        app = create_app(settings)
        app.web.init_server()
        return app

    return build


@pytest.fixture
async def serve() -> AsyncIterator[Callable]:
    """Factory: ``await serve(app)`` is an aiohttp test client of the app's web server."""
    clients: list[TestClient] = []

    async def start(app: faust.App) -> TestClient:
        client = TestClient(TestServer(app.web.web_app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def routes(app: faust.App) -> list[tuple[str, str]]:
    """(method, concrete path) of every route of the app's web server; ``{param}`` becomes x."""
    return sorted(
        (route.method, re.sub(r"\{[^}]*\}", "x", route.resource.canonical))
        for route in app.web.web_app.router.routes()
    )


def test_the_worker_serves_only_its_own_routes_even_when_faust_env_enables_its_views(
    make_worker_app, monkeypatch
):
    for name in FAUST_WEB_ENV:
        monkeypatch.setenv(name, "true")
    app = make_worker_app()

    assert {path for _, path in routes(app)} == OWN_ROUTES


@pytest.mark.parametrize("faust_env", [False, True], ids=["default", "faust-views-enabled"])
async def test_with_a_read_token_every_route_but_the_probes_answers_401_without_it(
    make_worker_app, serve, monkeypatch, faust_env
):
    for name in FAUST_WEB_ENV if faust_env else []:
        monkeypatch.setenv(name, "true")
    app = make_worker_app(worker_read_token=TOKEN)
    client = await serve(app)
    walked = routes(app) + [("GET", path) for path in FAUST_VIEW_PATHS]

    for method, path in walked:
        if path in PROBES:
            continue
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = await client.request(method, path, headers=headers)
            assert answer.status == 401, (method, path, headers)
            assert answer.headers["WWW-Authenticate"] == 'Bearer realm="salespulse"'
            if method == "GET":
                assert (await answer.json())["error"]["code"] == "unauthorized"
    for probe in sorted(PROBES):
        answer = await client.get(probe)
        assert answer.status in (200, 503), probe
        assert "error" in await answer.json() or answer.status == 200


async def test_with_the_token_the_old_faust_views_are_json_404s(make_worker_app, serve):
    client = await serve(make_worker_app(worker_read_token=TOKEN))

    for path in FAUST_VIEW_PATHS:
        answer = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status == 404, path
        assert (await answer.json())["error"]["code"] == "not_found"


async def test_without_a_read_token_the_worker_routes_stay_open(make_worker_app, serve):
    client = await serve(make_worker_app())

    metrics = await client.get("/metrics")
    listing = await client.get("/v1/keys")

    assert metrics.status == 200
    assert listing.status == 503
    assert (await listing.json())["error"]["code"] == "not_ready"


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_an_exception_in_a_view_is_a_logged_json_500_without_a_traceback(
    make_worker_app, serve, caplog, token
):
    app = make_worker_app(worker_read_token=token)

    @app.page("/v1/boom")
    class Boom(faust.web.View):
        async def get(self, request):
            raise RuntimeError("year 10000 is out of range")

    client = await serve(app)
    headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    with caplog.at_level(logging.ERROR, logger="streams.worker_web_guard"):
        answer = await client.get("/v1/boom", headers=headers)

    assert answer.status == 500
    body = await answer.text()
    assert "year 10000" not in body and "Traceback" not in body
    assert (await answer.json())["error"]["code"] == "internal"
    assert any("year 10000" in (r.exc_text or "") for r in caplog.records)


@pytest.mark.parametrize(
    ("as_of", "time_zone"),
    [
        ("9999-12-31T00:00:00Z", "UTC"),
        ("0001-01-01T00:00:00Z", "Pacific/Pago_Pago"),
        ("1969-12-31T23:00:00Z", "Europe/Paris"),
    ],
)
async def test_an_as_of_outside_the_era_is_a_json_400_from_the_worker(
    make_worker_app, serve, as_of, time_zone
):
    client = await serve(make_worker_app(time_zone=time_zone))
    params = {"scope": "company", "window": "mtd", "as_of": as_of}

    answer = await client.get("/v1/kpis", params=params)

    assert answer.status == 400
    assert (await answer.json())["error"] == {
        "code": "bad_request",
        "message": "as_of: must be at or after 1970-01-01T00:00:00Z and before "
        "9000-01-01T00:00:00Z",
    }


QUERY_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["company", "team", "1h", "mtd", "qtd", "9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z"]
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    path=st.sampled_from(["/v1/kpis", "/v1/keys"]),
    params=st.dictionaries(st.sampled_from(["scope", "id", "window", "as_of", "x"]), QUERY_VALUES),
    zone=st.sampled_from(["UTC", "Pacific/Pago_Pago", "Pacific/Kiritimati"]),
)
@example(
    path="/v1/kpis",
    params={"scope": "company", "window": "mtd", "as_of": "9999-12-31T00:00:00Z"},
    zone="UTC",
)
@example(
    path="/v1/kpis",
    params={"scope": "rep", "id": "r", "window": "qtd", "as_of": "0001-01-01T00:00:00Z"},
    zone="Pacific/Kiritimati",
)
async def test_any_query_parameters_get_a_json_answer_and_never_a_500(
    make_worker_app, serve, path, params, zone
):
    app = make_worker_app(time_zone=zone)
    owning_every_key(app.salespulse.ownership)
    client = await serve(app)

    answer = await client.get(path, params=params)

    assert answer.status in (200, 400), (path, params)
    body = await answer.json()
    assert answer.status == 200 or set(body["error"]) == {"code", "message"}


def owning_every_key(ownership) -> None:
    """A ready worker alone in its group, owning every key (all of whose buckets are empty)."""
    ownership.is_ready = lambda: True
    ownership.owns = ownership.is_known = lambda key: True
    ownership.owned_keys = lambda: iter(["team|a"])
    ownership.peer_urls = list
    ownership.lookup = lambda key, grid, index: None
