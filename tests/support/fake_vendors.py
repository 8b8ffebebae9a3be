"""Fake HubSpot, Pipedrive and Salesforce APIs on loopback, serving the documented shapes.

One Starlette app in a uvicorn thread answers the calls the deal sources make: HubSpot's deals
batch read (207 with ``errors`` for unknown ids), v4 deal->company associations and deals search
(``after`` paging, the 10,000-result cap); Pipedrive's ``GET /api/v2/deals`` (``ids``,
``updated_since``, ``next_cursor``); Salesforce's ``query`` (``nextRecordsUrl`` paging and
INVALID_FIELD for ``CurrencyIsoCode`` in a single-currency org). A portal holds the deals the
tests put there; ``throttle`` makes the next requests answer 429 with a ``Retry-After``;
``repeat_paging`` makes every list answer point at the same next page again (a vendor bug a
client must not follow for ever); ``padding`` adds that many bytes of filler to every answer.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from events.crm.common import vendor_time
from tests.support.polling import wait_until

TOKENS = {"hubspot": "hs-token", "pipedrive": "pd-token", "salesforce": "sf-token"}
SEARCH_CAP = 10_000


@dataclass
class Portal:
    """The fake vendors' data, as their APIs return it, and what the tests asked of them."""

    hubspot_deals: dict[str, dict] = field(default_factory=dict)
    hubspot_companies: dict[str, list[str]] = field(default_factory=dict)
    pipedrive_deals: dict[str, dict] = field(default_factory=dict)
    salesforce_opportunities: dict[str, dict] = field(default_factory=dict)
    salesforce_multi_currency: bool = True
    page_size: int = 100
    requests: list[tuple[str, str]] = field(default_factory=list)
    throttled: list[str] = field(default_factory=list)
    """Retry-After values for the next requests, answered 429 in order."""
    repeat_paging: bool = False
    padding: int = 0

    def throttle(self, *retry_after: str) -> None:
        self.throttled.extend(retry_after)


def _refusal(request: Request, vendor: str) -> JSONResponse | None:
    portal: Portal = request.app.state.portal
    portal.requests.append((request.method, request.url.path))
    if portal.throttled:
        wait = portal.throttled.pop(0)
        return JSONResponse(
            {"status": "error", "message": "rate limited"}, 429, {"Retry-After": wait}
        )
    if vendor == "pipedrive":
        given = request.headers.get("x-api-token")
    else:
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
    if given != TOKENS[vendor]:
        return JSONResponse(
            {"status": "error", "message": "Authentication credentials not found"}, 401
        )
    return None


def _answer(request: Request, body: dict, status: int = 200) -> JSONResponse:
    padding = request.app.state.portal.padding
    return JSONResponse({**body, "padding": "x" * padding} if padding else body, status)


async def hubspot_batch_read(request: Request) -> JSONResponse:
    if (refused := _refusal(request, "hubspot")) is not None:
        return refused
    body, deals = await request.json(), request.app.state.portal.hubspot_deals
    ids = [item["id"] for item in body["inputs"]]
    found = [_with_properties(deals[i], body.get("properties")) for i in ids if i in deals]
    answer = {"status": "COMPLETE", "results": found}
    missing = [i for i in ids if i not in deals]
    if missing:
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some DEAL objects, they may be deleted or not exist.",
                "context": {"ids": missing},
            }
        ]
    return _answer(request, answer, 207 if missing else 200)


def _with_properties(record: dict, names: list[str] | None) -> dict:
    props = record["properties"]
    chosen = {name: props.get(name) for name in names} if names else props
    return {**record, "properties": chosen}


async def hubspot_associations(request: Request) -> JSONResponse:
    if (refused := _refusal(request, "hubspot")) is not None:
        return refused
    body, companies = await request.json(), request.app.state.portal.hubspot_companies
    results = []
    for item in body["inputs"]:
        linked = companies.get(item["id"], [])
        if linked:
            to = [
                {
                    "toObjectId": int(company),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 5 if n == 0 else 341}
                    ],
                }
                for n, company in enumerate(linked)
            ]
            results.append({"from": {"id": item["id"]}, "to": to})
    return JSONResponse({"status": "COMPLETE", "results": results})


async def hubspot_search(request: Request) -> JSONResponse:
    if (refused := _refusal(request, "hubspot")) is not None:
        return refused
    body, portal = await request.json(), request.app.state.portal
    since_ms = int(body["filterGroups"][0]["filters"][0]["value"])
    after = int(body.get("after") or 0)
    if after >= SEARCH_CAP:
        return JSONResponse({"status": "error", "message": "paging beyond 10000 results"}, 400)
    matching = sorted(
        (
            (_epoch_ms(r["properties"]["hs_lastmodifieddate"]), r["id"], r)
            for r in portal.hubspot_deals.values()
            if _epoch_ms(r["properties"]["hs_lastmodifieddate"]) >= since_ms
        ),
        key=lambda item: item[:2],
    )
    limit = min(int(body.get("limit", 10)), portal.page_size)
    page = [
        _with_properties(r, body.get("properties")) for *_, r in matching[after : after + limit]
    ]
    answer = {"total": len(matching), "results": page}
    if after + limit < len(matching):
        following = limit if portal.repeat_paging else after + limit
        answer["paging"] = {"next": {"after": str(following), "link": f"?after={following}"}}
    return _answer(request, answer)


def _epoch_ms(text: str) -> int:
    return int(vendor_time(text).timestamp() * 1000)


async def pipedrive_deals(request: Request) -> JSONResponse:
    if (refused := _refusal(request, "pipedrive")) is not None:
        return refused
    portal, params = request.app.state.portal, request.query_params
    deals = sorted(portal.pipedrive_deals.values(), key=lambda d: d["id"])
    if "ids" in params:
        wanted = set(params["ids"].split(","))
        deals = [d for d in deals if str(d["id"]) in wanted]
    if "updated_since" in params:
        since = vendor_time(params["updated_since"])
        deals = [d for d in deals if vendor_time(d["update_time"]) >= since]
    start = int(params.get("cursor", "0"))
    limit = min(int(params.get("limit", 100)), portal.page_size)
    page = deals[start : start + limit]
    following = limit if portal.repeat_paging else start + limit
    cursor = str(following) if start + limit < len(deals) else None
    body = {"success": True, "data": page, "additional_data": {"next_cursor": cursor}}
    return _answer(request, body)


_SINCE = re.compile(r"LastModifiedDate >= (\S+)")
_IDS = re.compile(r"Id IN \(([^)]*)\)")


async def salesforce_query(request: Request) -> JSONResponse:
    if (refused := _refusal(request, "salesforce")) is not None:
        return refused
    portal, query = request.app.state.portal, request.query_params.get("q", "")
    if "CurrencyIsoCode" in query and not portal.salesforce_multi_currency:
        error = {
            "message": "\nSELECT Id, CurrencyIsoCode\n       ^\nERROR at Row:1:Column:8\n"
            "No such column 'CurrencyIsoCode' on entity 'Opportunity'.",
            "errorCode": "INVALID_FIELD",
        }
        return JSONResponse([error], 400)
    records = sorted(portal.salesforce_opportunities.values(), key=lambda r: r["LastModifiedDate"])
    if since := _SINCE.search(query):
        start = vendor_time(since[1])
        records = [r for r in records if _sf_time(r["LastModifiedDate"]) >= start]
    if ids := _IDS.search(query):
        wanted = {part.strip(" '") for part in ids[1].split(",")}
        records = [r for r in records if r["Id"] in wanted]
    fields = query.split(" FROM ")[0].removeprefix("SELECT ").split(", ")
    selected = [{"attributes": r["attributes"], **{f: r.get(f) for f in fields}} for r in records]
    request.app.state.pages = getattr(request.app.state, "pages", {})
    return _salesforce_page(request, selected, 0)


async def salesforce_more(request: Request) -> JSONResponse:
    if (refused := _refusal(request, "salesforce")) is not None:
        return refused
    locator, offset = request.path_params["locator"].rsplit("-", 1)
    return _salesforce_page(request, request.app.state.pages[locator], int(offset))


def _salesforce_page(request: Request, records: list[dict], offset: int) -> JSONResponse:
    size, version = request.app.state.portal.page_size, request.path_params["version"]
    page = records[offset : offset + size]
    answer = {"totalSize": len(records), "done": offset + size >= len(records), "records": page}
    if not answer["done"]:
        portal = request.app.state.portal
        locator = f"01g{0 if portal.repeat_paging else len(request.app.state.pages):012d}"
        request.app.state.pages[locator] = records
        following = size if portal.repeat_paging else offset + size
        answer["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{following}"
    return _answer(request, answer)


def _sf_time(text: str):
    return vendor_time(re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text))


def fake_vendor_app(portal: Portal) -> Starlette:
    app = Starlette(
        routes=[
            Route("/crm/v3/objects/deals/batch/read", hubspot_batch_read, methods=["POST"]),
            Route(
                "/crm/v4/associations/deals/companies/batch/read",
                hubspot_associations,
                methods=["POST"],
            ),
            Route("/crm/v3/objects/deals/search", hubspot_search, methods=["POST"]),
            Route("/api/v2/deals", pipedrive_deals),
            Route("/services/data/{version}/query", salesforce_query),
            Route("/services/data/{version}/query/{locator}", salesforce_more),
        ]
    )
    app.state.portal, app.state.pages = portal, {}
    return app


@contextmanager
def running_fake_vendors(portal: Portal | None = None) -> Iterator[tuple[str, Portal]]:
    """(base URL, portal) of the fake APIs, served until the block ends."""
    portal = portal or Portal()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(fake_vendor_app(portal), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 10, 0.02, "the fake vendor APIs serving")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", portal
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
