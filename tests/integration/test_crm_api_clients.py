"""The CRM API clients against the fake vendor APIs on loopback (no broker needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest

from events.crm import hubspot_api
from events.crm.deal_source import VendorRefused, VendorUnavailable
from events.crm.hubspot_api import HubSpotDeals
from events.crm.pipedrive_api import PipedriveDeals
from events.crm.salesforce_api import SalesforceDeals
from events.crm.sources import deal_sources
from events.crm.vendor_http import RetryPolicy, VendorHttp
from events.settings import Settings
from tests.support import fake_vendors
from tests.support.crm import fixture_mapping
from tests.support.fake_vendors import TOKENS, Portal, running_fake_vendors
from tests.support.vendor_deals import (
    DealSpec,
    add_deals,
)

VENDORS = ["hubspot", "pipedrive", "salesforce"]
CLOCK = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)
START = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)


def spec(vendor: str, n: int) -> DealSpec:
    key = f"0065g00000OPP{n:02d}AAA" if vendor == "salesforce" else str(100 + n)
    owner = "0055g00000USR01AAA" if vendor == "salesforce" else "31337"
    created = START + timedelta(hours=n)
    return DealSpec(
        key, owner, str(500 + n), 100 * (n + 1), created, "won", created + timedelta(hours=1)
    )


def populate(portal: Portal, vendor: str, count: int) -> list[DealSpec]:
    deals = [spec(vendor, n) for n in range(count)]
    add_deals(portal, vendor, deals)
    return deals


@pytest.fixture
def fake_api() -> Iterator[tuple[str, Portal]]:
    with running_fake_vendors() as served:
        yield served


@pytest.fixture
def make_source(fake_api) -> Iterator[Callable]:
    """Factory: a vendor's source against the fakes; its waits are recorded, never slept."""
    base_url, _ = fake_api
    sources = []

    def build(vendor: str, token: str | None = None, retries: int = 4, sleeps=None):
        async def record(seconds: float) -> None:
            if sleeps is not None:
                sleeps.append(seconds)

        token = token or TOKENS[vendor]
        headers = (
            {"x-api-token": token}
            if vendor == "pipedrive"
            else {"Authorization": f"Bearer {token}"}
        )
        policy = RetryPolicy(max_retries=retries, budget_s=30)
        http = VendorHttp(vendor, base_url, headers, 5, policy, sleep=record, clock=lambda: CLOCK)
        mapping = fixture_mapping()
        source = {
            "hubspot": lambda: HubSpotDeals(http, mapping),
            "pipedrive": lambda: PipedriveDeals(http, mapping),
            "salesforce": lambda: SalesforceDeals(http, mapping, "62.0", ZoneInfo("UTC")),
        }[vendor]()
        sources.append(source)
        return source

    yield build


async def synced(source, since: datetime = START) -> dict[str, list[dict]]:
    events = {}
    async for batch in source.modified_since(since):
        assert batch.refused == {}
        events.update(batch.events)
    return events


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_sync_pages_through_every_modified_deal(fake_api, make_source, vendor):
    _, portal = fake_api
    portal.page_size = 3
    deals = populate(portal, vendor, 7)
    events = await synced(make_source(vendor))
    prefix = {"hubspot": "hubspot-", "pipedrive": "pipedrive-", "salesforce": "salesforce-"}
    assert set(events) == {f"{prefix[vendor]}{deal.key}" for deal in deals}
    assert len(portal.requests) >= 3


@pytest.mark.parametrize("vendor", VENDORS)
async def test_only_deals_modified_since_the_given_instant_are_read(fake_api, make_source, vendor):
    _, portal = fake_api
    deals = populate(portal, vendor, 4)
    events = await synced(make_source(vendor), since=deals[2].modified)
    assert len(events) == 2


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [("2", 2.0), (format_datetime(CLOCK + timedelta(seconds=3), usegmt=True), 3.0)],
)
@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_429_is_retried_after_the_wait_the_vendor_asked_for(
    fake_api, make_source, vendor, retry_after, waited
):
    _, portal = fake_api
    deals = populate(portal, vendor, 1)
    portal.throttle(retry_after)
    sleeps: list[float] = []
    events = await make_source(vendor, sleeps=sleeps).deal_events([deals[0].key])
    assert list(events) == [deals[0].key]
    assert sleeps == [waited]


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_vendor_throttling_past_the_retries_is_unavailable(fake_api, make_source, vendor):
    _, portal = fake_api
    deals = populate(portal, vendor, 1)
    portal.throttle("1", "1", "1")
    with pytest.raises(VendorUnavailable, match="HTTP 429"):
        await make_source(vendor, retries=2).deal_events([deals[0].key])


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_refused_token_is_vendor_refused_and_never_retried(fake_api, make_source, vendor):
    _, portal = fake_api
    deals = populate(portal, vendor, 1)
    with pytest.raises(VendorRefused, match="401") as refused:
        await make_source(vendor, token="wrong-token").deal_events([deals[0].key])
    assert "wrong-token" not in str(refused.value)
    assert len(portal.requests) == 1


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_deal_the_vendor_no_longer_has_is_missing_from_the_answer(
    fake_api, make_source, vendor
):
    _, portal = fake_api
    deals = populate(portal, vendor, 2)
    gone = "0065g00000GONE0AAA" if vendor == "salesforce" else "999"
    asked = [f"{vendor}-{deals[0].key}", deals[1].key, gone]
    events = await make_source(vendor).deal_events(asked)
    assert set(events) == set(asked[:2])
    assert {e["deal_id"] for e in events[deals[1].key]} == {f"{vendor}-{deals[1].key}"}


async def test_an_unreachable_vendor_is_unavailable(make_source):
    http = VendorHttp(
        "hubspot", "http://127.0.0.1:9", {}, 1, RetryPolicy(max_retries=1), sleep=_no_wait
    )
    with pytest.raises(VendorUnavailable, match="connection failed"):
        await HubSpotDeals(http, fixture_mapping()).deal_events(["1"])


async def _no_wait(_: float) -> None:
    return None


async def test_hubspot_asked_again_reads_the_deal_again_and_sees_its_change(fake_api, make_source):
    _, portal = fake_api
    [deal] = populate(portal, "hubspot", 1)
    source = make_source("hubspot")
    first = await source.deal_events([deal.key, deal.key])
    assert portal.requests.count(("POST", hubspot_api.BATCH_READ)) == 1
    portal.hubspot_deals[deal.key]["properties"]["amount"] = "4321"

    again = await source.deal_events([deal.key])

    assert again != first
    assert portal.requests.count(("POST", hubspot_api.BATCH_READ)) == 2
    assert {e.get("amount") for e in again[deal.key]} >= {4321}


@pytest.mark.parametrize("vendor", VENDORS)
async def test_paging_that_repeats_a_cursor_is_refused_instead_of_followed_for_ever(
    fake_api, make_source, vendor
):
    _, portal = fake_api
    portal.page_size, portal.repeat_paging = 3, True
    populate(portal, vendor, 7)
    with pytest.raises(VendorRefused, match="repeats"):
        await synced(make_source(vendor))
    assert len(portal.requests) <= 4


@pytest.mark.parametrize("vendor", VENDORS)
async def test_an_answer_over_the_byte_cap_is_refused_without_being_read_whole(fake_api, vendor):
    base_url, portal = fake_api
    portal.padding = 64 * 1024
    populate(portal, vendor, 1)
    token = TOKENS[vendor]
    headers = (
        {"x-api-token": token} if vendor == "pipedrive" else {"Authorization": f"Bearer {token}"}
    )
    http = VendorHttp(vendor, base_url, headers, 5, RetryPolicy(), max_answer_bytes=16 * 1024)
    mapping = fixture_mapping()
    source = {
        "hubspot": lambda: HubSpotDeals(http, mapping),
        "pipedrive": lambda: PipedriveDeals(http, mapping),
        "salesforce": lambda: SalesforceDeals(http, mapping, "62.0", ZoneInfo("UTC")),
    }[vendor]()
    try:
        with pytest.raises(VendorRefused, match="more than the 16,384 read"):
            await synced(source)
    finally:
        await source.close()


async def test_hubspot_customer_is_the_deals_company(fake_api, make_source):
    _, portal = fake_api
    deals = populate(portal, "hubspot", 1)
    events = await make_source("hubspot").deal_events([deals[0].key])
    created = [e for e in events[deals[0].key] if e["type"] == "deal.created"]
    assert created[0]["customer_id"] == deals[0].customer


async def test_a_hubspot_search_past_its_result_cap_is_split_by_time(
    fake_api, make_source, monkeypatch
):
    _, portal = fake_api
    monkeypatch.setattr(hubspot_api, "SEARCH_CAP", 4)
    monkeypatch.setattr(hubspot_api, "BATCH_SIZE", 2)
    monkeypatch.setattr(fake_vendors, "SEARCH_CAP", 4)
    portal.page_size = 2
    deals = populate(portal, "hubspot", 9)
    events = await synced(make_source("hubspot"))
    assert set(events) == {f"hubspot-{deal.key}" for deal in deals}


async def test_a_single_currency_salesforce_org_is_queried_without_currency(fake_api, make_source):
    _, portal = fake_api
    portal.salesforce_multi_currency = False
    deals = populate(portal, "salesforce", 2)
    source = make_source("salesforce")
    events = await synced(source)
    created = [e for evs in events.values() for e in evs if e["type"] == "deal.created"]
    assert len(created) == 2 and all("currency" not in e for e in created)
    await source.deal_events([deals[0].key])
    assert len(portal.requests) == 3  # one refused query, then one per call


@pytest.mark.parametrize(
    ("settings", "vendors"),
    [
        ({}, []),
        ({"hubspot_private_app_token": "t"}, ["hubspot"]),
        ({"pipedrive_api_token": "t"}, []),
        ({"pipedrive_api_token": "t", "pipedrive_api_base_url": "http://x"}, ["pipedrive"]),
        ({"salesforce_access_token": "t", "salesforce_instance_url": "http://x"}, ["salesforce"]),
    ],
)
async def test_a_source_exists_for_each_vendor_whose_api_is_configured(settings, vendors):
    sources = deal_sources(Settings(**settings), fixture_mapping())
    assert sorted(sources) == vendors
    for source in sources.values():
        await source.close()
