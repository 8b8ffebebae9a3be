"""The CRM edge against vendor answers that change, that are oddly shaped, and secrets in bodies.

Pure or in process: HubSpot enrichment never answers a delivery from an earlier fetch, vendor
answers of an unexpected shape refuse one deal (or leave a company unknown) instead of raising,
a 200 that is not JSON is a refusal (the webhook's own content is used), a Salesforce session is
never stored, and every adapter picks event ids by one rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from events.crm import deal_ids, hubspot_api
from events.crm.deal_records import salesforce_state
from events.crm.deal_source import VendorRefused
from events.crm.deliveries import decode_delivery
from events.crm.interpretation import Context, Origin, interpret
from events.crm.salesforce_api import SalesforceDeals
from events.crm.vendor_http import RetryPolicy, VendorHttp
from events.ingest_api import create_ingest_app
from events.models import EventPolicy
from events.publisher import Outgoing
from events.settings import Settings
from events.topics import TopicNames
from tests.support.crm import SALESFORCE_PATH, fixture_bytes, fixture_mapping, webhook_settings

MAPPING = fixture_mapping()
NAMES = TopicNames("t.")
NOW = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)
ORIGIN = Origin(NAMES.crm_deliveries, 0, 7)
SESSION = "00D5g000004ABCD!AQ4AQLiveSessionToken.secret"


class ChangingHubSpot:
    """HubSpot's batch read and associations, answering the deal as it is at each call."""

    def __init__(self, record: dict) -> None:
        self.record, self.reads = record, 0

    async def post(self, path: str, body: dict) -> dict:
        if path == hubspot_api.BATCH_READ:
            self.reads += 1
            return {"results": [orjson.loads(orjson.dumps(self.record))]}
        deal = body["inputs"][0]["id"]
        to = [{"toObjectId": 6060, "associationTypes": [{"typeId": 5}]}]
        return {"results": [{"from": {"id": deal}, "to": to}]}

    async def close(self) -> None:
        pass


def hubspot_deal(stage: str, modified: str, entered: str) -> dict:
    won = stage == "closedwon"
    props = {
        "amount": "1200",
        "createdate": "2026-02-14T09:00:00Z",
        "closedate": "2026-02-14T00:00:00Z",
        "dealstage": stage,
        "hs_is_closed": "true" if won else "false",
        "hs_is_closed_won": "true" if won else "false",
        "hs_lastmodifieddate": modified,
        "hs_v2_date_entered_current_stage": entered,
        "hubspot_owner_id": "31337",
        "deal_currency_code": "EUR",
    }
    return {"id": "9001", "properties": props}


def stage_change(stage: str, at_ms: int) -> bytes:
    change = {
        "eventId": at_ms,
        "subscriptionId": 1,
        "portalId": 62515,
        "occurredAt": at_ms,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 9001,
        "propertyName": "dealstage",
        "propertyValue": stage,
    }
    return orjson.dumps([change])


def delivery_value(body: bytes) -> bytes:
    stored = {
        "format": 1,
        "vendor": "hubspot",
        "delivery_id": f"d-{len(body)}",
        "received_at": "2026-02-14T15:00:00Z",
        "headers": {},
        "body": body.decode(),
    }
    return orjson.dumps(stored)


def context(source) -> Context:
    policy = EventPolicy(clock=lambda: NOW)
    return Context(MAPPING, policy, NAMES, ZoneInfo("UTC"), {"hubspot": source})


def types_of(result) -> list[str]:
    return [orjson.loads(r.value)["type"] for r in result.records if r.topic == NAMES.deal_events]


async def test_a_win_interpreted_seconds_after_an_earlier_fetch_of_the_deal_publishes_the_win():
    api = ChangingHubSpot(
        hubspot_deal("appointmentscheduled", "2026-02-14T10:00:00Z", "2026-02-14T09:00:00Z")
    )
    source = hubspot_api.HubSpotDeals(api, MAPPING)
    ctx = context(source)
    first = await interpret(
        b"hubspot", delivery_value(stage_change("qualifiedtobuy", 1)), ORIGIN, ctx
    )
    assert "deal.won" not in types_of(first)

    api.record = hubspot_deal("closedwon", "2026-02-14T10:00:10Z", "2026-02-14T10:00:10Z")
    later = await interpret(b"hubspot", delivery_value(stage_change("closedwon", 2)), ORIGIN, ctx)

    assert api.reads == 2
    assert "deal.won" in types_of(later)


@pytest.mark.parametrize(
    "associations",
    [
        [{"toObjectId": 6060, "associationTypes": 7}],
        [{"toObjectId": "6061", "associationTypes": [{"typeId": 341}]}, {"toObjectId": 6060}],
        [{"toObjectId": {"id": 1}}, {"toObjectId": 6060, "associationTypes": [5, "x"]}],
        "not a list",
    ],
    ids=["types-not-a-list", "int-and-str-ids", "odd-entries", "to-not-a-list"],
)
def test_an_association_of_an_unexpected_shape_never_raises(associations):
    company = hubspot_api.primary_company(associations)
    assert company in (None, "6060", "6061")


def test_mixed_int_and_text_company_ids_pick_the_smallest_id_stably():
    both = [{"toObjectId": "6061"}, {"toObjectId": 6060}]
    assert hubspot_api.primary_company(both) == "6060"
    assert hubspot_api.primary_company(list(reversed(both))) == "6060"


class OddAssociations(ChangingHubSpot):
    async def post(self, path: str, body: dict) -> dict:
        if path == hubspot_api.BATCH_READ:
            return await super().post(path, body)
        return {"results": [{"from": 5, "to": [{"toObjectId": 6060}]}, "x", {"from": None}]}


async def test_an_association_result_whose_from_is_no_object_leaves_the_company_unknown():
    record = hubspot_deal("closedwon", "2026-02-14T10:00:10Z", "2026-02-14T10:00:10Z")
    answer = await hubspot_api.HubSpotDeals(OddAssociations(record), MAPPING).fetch(["9001"])
    assert answer.refused == {}
    assert all("customer_id" not in event for event in answer.events["9001"])


def salesforce_record(**fields) -> dict:
    return {
        "attributes": {"type": "Opportunity"},
        "Id": "0065g00000OPP01AAA",
        "Amount": 4000.0,
        "IsClosed": True,
        "IsWon": True,
        "OwnerId": "0055g00000USR01AAA",
        "AccountId": "0015g00000ACC01AAA",
        "CreatedDate": "2026-02-14T10:00:00.000+0000",
        "LastModifiedDate": "2026-02-14T15:00:00.000+0000",
        **fields,
    }


class SalesforceAnswering:
    def __init__(self, records: list[dict]) -> None:
        self.records = records

    async def get(self, path: str, params: dict | None = None) -> dict:
        return {"done": True, "totalSize": len(self.records), "records": self.records}


@pytest.mark.parametrize(
    "fields",
    [
        {"OwnerId": {"attributes": {"type": "User"}, "Id": "005"}},
        {"AccountId": ["0015g00000ACC01AAA"]},
        {"CloseDate": {"year": 2026}},
    ],
    ids=["owner-object", "account-list", "close-date-object"],
)
async def test_a_salesforce_field_of_an_unexpected_shape_refuses_that_deal_with_a_reason(fields):
    good = salesforce_record(Id="0065g00000OPP02AAA")
    source = SalesforceDeals(
        SalesforceAnswering([salesforce_record(**fields), good]), MAPPING, "62.0", ZoneInfo("UTC")
    )
    answer = await source.fetch(["0065g00000OPP01AAA", "0065g00000OPP02AAA"])
    [reason] = answer.refused.values()
    assert "0065g00000OPP01AAA" in reason and "must be" in reason
    assert list(answer.events) == ["0065g00000OPP02AAA"]


def test_a_salesforce_owner_object_is_an_invalid_deal_not_a_type_error():
    from events.crm.common import InvalidDelivery

    record = salesforce_record(OwnerId={"Id": "005"})
    with pytest.raises(InvalidDelivery, match="OwnerId: must be a text value"):
        salesforce_state(record, MAPPING, ZoneInfo("UTC"), NOW)


def answering(body: bytes, status: int = 200) -> VendorHttp:
    http = VendorHttp("hubspot", "http://vendor.test", {}, 5, RetryPolicy(max_retries=0))
    handler = lambda request: httpx.Response(status, content=body)  # noqa: E731
    http._client = httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://vendor.test"
    )
    return http


@pytest.mark.parametrize(
    "body", [b"<html>maintenance</html>", b"[1, 2]", b'{"results": 5}'], ids=str
)
async def test_a_hubspot_answer_that_is_not_the_documented_shape_is_a_refusal_not_an_outage(body):
    source = hubspot_api.HubSpotDeals(answering(body), MAPPING)
    with pytest.raises(VendorRefused, match="hubspot API"):
        await source.fetch(["9001"])


async def test_a_malformed_hubspot_answer_falls_back_to_the_webhooks_own_content():
    source = hubspot_api.HubSpotDeals(answering(b"not json at all"), MAPPING)
    value = delivery_value(stage_change("closedwon", 1771063200000))
    result = await interpret(b"hubspot", value, ORIGIN, context(source))
    assert result.source_refused is True
    assert types_of(result) == ["deal.won"]


class Capturing:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        self.sent += batch

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def test_a_salesforce_delivery_with_a_session_id_is_stored_without_it():
    body = fixture_bytes("salesforce_opportunity_won.xml").replace(
        b'<SessionId xsi:nil="true"/>', f"<SessionId>{SESSION}</SessionId>".encode()
    )
    assert SESSION.encode() in body
    publisher = Capturing()
    app = create_ingest_app(Settings(**webhook_settings()), publisher=publisher)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        answer = await client.post(SALESFORCE_PATH, content=body)

    assert answer.status_code == 200
    [stored] = publisher.sent
    kept = decode_delivery(stored.value).body
    assert SESSION.encode() not in kept
    assert b"services/Soap" not in kept
    assert b"<SessionId></SessionId>" in kept
    assert b"<sf:Id>0065g00000OPP01AAA</sf:Id>" in kept


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("deal.created", lambda at: deal_ids.created_id("v", "d")),
        ("deal.updated", lambda at: deal_ids.updated_id("v", "d", at, {"amount": 5})),
        ("deal.won", lambda at: deal_ids.status_change_id("v", "d", "won", at)),
        ("deal.reopened", lambda at: deal_ids.status_change_id("v", "d", "reopened", at)),
    ],
)
def test_one_rule_picks_the_event_id_of_every_kind(kind, expected):
    assert deal_ids.event_id("v", "d", kind, NOW, {"amount": 5}) == expected(NOW)


def test_pipedrive_and_salesforce_adapters_take_their_ids_from_the_shared_rule(monkeypatch):
    from events.crm.pipedrive import pipedrive_events
    from events.crm.salesforce import salesforce_events
    from events.crm.salesforce_soap import parse_outbound_message
    from tests.support.crm import fixture_json

    monkeypatch.setattr(deal_ids, "event_id", lambda vendor, deal, kind, at, attrs: f"x-{kind}")
    message = parse_outbound_message(fixture_bytes("salesforce_opportunity_won.xml"))
    sf = salesforce_events(message, MAPPING, NOW, ZoneInfo("UTC"))
    pd = pipedrive_events(fixture_json("pipedrive_v2_won.json"), MAPPING)
    assert {e["event_id"] for e in sf + pd} <= {"x-deal.updated", "x-deal.created", "x-deal.won"}
    assert {e["event_id"] for e in pd} >= {"x-deal.won"}
