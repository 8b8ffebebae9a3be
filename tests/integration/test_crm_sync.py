"""``salespulse crm sync`` over a fake CRM portal, publishing to the real broker.

The same deals are told twice: as the portal's API answers now, and as the vendor's webhooks
delivered them (mapped by the pure adapters). The events the sync publishes must recompute to
the KPIs of the webhook events, and a second sync must publish nothing new (same ids).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest

from events.crm.hubspot import hubspot_events
from events.crm.pipedrive import pipedrive_events
from events.crm.salesforce import salesforce_events
from events.models import EventPolicy, validate_event
from projections.recompute import recompute
from projections.timebase import BucketGrid
from tests.support.cli import run_cli
from tests.support.crm import MAPPING_FILE, fixture_mapping
from tests.support.crm_topics import read_published
from tests.support.fake_vendors import TOKENS, Portal, running_fake_vendors
from tests.support.kafka import create_event_topics
from tests.support.vendor_deals import (
    DealSpec,
    add_deals,
    hubspot_deliveries,
    pipedrive_deliveries,
    salesforce_delivery,
)

NOW = datetime.now(UTC).replace(microsecond=0)
HOURS = [NOW - timedelta(hours=h) for h in range(72, 0, -1)]


def specs(vendor: str) -> list[DealSpec]:
    """Four deals of two owners: won, lost, open, and won the same day as created."""
    owners = {
        "hubspot": ("31337", "31338"),
        "pipedrive": ("18487521", "18487522"),
        "salesforce": ("0055g00000USR01AAA", "0055g00000USR02AAA"),
    }[vendor]
    keys = [
        f"0065g00000OPP{n:02d}AAA" if vendor == "salesforce" else str(900 + n) for n in range(4)
    ]
    return [
        DealSpec(keys[0], owners[0], "501", 1200, HOURS[0], "won", HOURS[30]),
        DealSpec(keys[1], owners[0], "502", 800, HOURS[5], "lost", HOURS[40]),
        DealSpec(keys[2], owners[1], "503", 450, HOURS[10]),
        DealSpec(keys[3], owners[1], "501", 3000, HOURS[50], "won", HOURS[60]),
    ]


def portal_of(vendor: str, deals: list[DealSpec]) -> Portal:
    portal = Portal(page_size=3)  # paging is part of what a sync must get right
    add_deals(portal, vendor, deals)
    return portal


def webhook_events(vendor: str, deals: list[DealSpec]) -> list[dict]:
    mapping, events = fixture_mapping(), []
    for deal in deals:
        if vendor == "hubspot":
            for delivery in hubspot_deliveries(deal):
                events += hubspot_events(delivery, mapping)
        elif vendor == "pipedrive":
            for delivery in pipedrive_deliveries(deal):
                events += pipedrive_events(delivery, mapping)
        else:
            events += salesforce_events(salesforce_delivery(deal), mapping, NOW, ZoneInfo("UTC"))
    return events


def vendor_env(vendor: str, base_url: str) -> dict[str, str]:
    return {
        "hubspot": {
            "SALESPULSE_HUBSPOT_PRIVATE_APP_TOKEN": TOKENS["hubspot"],
            "SALESPULSE_HUBSPOT_API_BASE_URL": base_url,
        },
        "pipedrive": {
            "SALESPULSE_PIPEDRIVE_API_TOKEN": TOKENS["pipedrive"],
            "SALESPULSE_PIPEDRIVE_API_BASE_URL": base_url,
        },
        "salesforce": {
            "SALESPULSE_SALESFORCE_ACCESS_TOKEN": TOKENS["salesforce"],
            "SALESPULSE_SALESFORCE_INSTANCE_URL": base_url,
        },
    }[vendor]


def kpis_of(events: list[dict]) -> dict[str, dict]:
    policy = EventPolicy(reporting_currency="EUR")
    typed = [validate_event(event, policy) for event in events]
    return recompute(typed, BucketGrid("UTC")).report_all(NOW)


@pytest.fixture
def sync_portal(kafka_bootstrap: str, topic_prefix: str) -> Iterator[Callable]:
    """Factory: run ``crm sync`` for a vendor's fake portal; the deal topic's events so far."""
    with running_fake_vendors() as (base_url, portal):

        async def sync(vendor: str, deals: list[DealSpec]) -> tuple[int, list[dict]]:
            portal.__dict__.update(portal_of(vendor, deals).__dict__)
            names = await create_event_topics(kafka_bootstrap, topic_prefix)
            env = {
                "SALESPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
                "SALESPULSE_TOPIC_PREFIX": topic_prefix,
                "SALESPULSE_CRM_MAPPING_FILE": str(MAPPING_FILE),
                **vendor_env(vendor, base_url),
            }
            since = (NOW - timedelta(days=5)).isoformat()
            done = run_cli(None, "crm", "sync", "--crm", vendor, "--since", since, **env)
            assert done.returncode == 0, done.stderr
            # The sync exited once the broker acknowledged all it published: read to the end.
            records = await read_published(kafka_bootstrap, names.deal_events)
            return done.returncode, [orjson.loads(r.value) for r in records]

        yield sync


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
async def test_a_sync_alone_recomputes_to_the_kpis_of_the_webhooks(sync_portal, vendor):
    deals = specs(vendor)
    _, synced = await sync_portal(vendor, deals)
    assert {event["deal_id"] for event in synced} == {
        event["deal_id"] for event in webhook_events(vendor, deals)
    }
    want = kpis_of(webhook_events(vendor, deals))
    assert want["company||30d"]["opportunities"] == 4
    assert want["company||30d"]["deals_won"] == 2
    assert kpis_of(synced) == want


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
async def test_a_second_sync_publishes_only_events_already_published(sync_portal, vendor):
    deals = specs(vendor)
    _, first = await sync_portal(vendor, deals)
    _, both = await sync_portal(vendor, deals)
    assert len(both) == 2 * len(first)
    assert {event["event_id"] for event in both} == {event["event_id"] for event in first}


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
async def test_a_sync_after_the_webhooks_changes_no_kpi(sync_portal, vendor):
    deals = specs(vendor)
    webhooks = webhook_events(vendor, deals)
    _, synced = await sync_portal(vendor, deals)
    assert kpis_of(webhooks + synced) == kpis_of(webhooks)
