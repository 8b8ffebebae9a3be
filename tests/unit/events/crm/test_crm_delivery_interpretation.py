"""CRM deliveries item by item: stored as they came, interpreted per item, dead-lettered per item.

Pure: the interpretation of one stored delivery into the records to publish (native events and
dead letters), with the real adapters, the real validation and a fake deal source.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from events.crm import deal_ids, hubspot_api
from events.crm.deal_records import DealBatch
from events.crm.deal_source import VendorRefused, VendorUnavailable
from events.crm.deliveries import (
    RawDelivery,
    UnreadableDelivery,
    decode_delivery,
    delivery_record,
    encode_delivery,
    received,
)
from events.crm.hubspot import hubspot_outcomes
from events.crm.interpretation import Context, Origin, interpret, reason_label
from events.crm.pipedrive import pipedrive_events
from events.crm.salesforce import salesforce_events, salesforce_outcomes
from events.crm.salesforce_soap import outbound_message, parse_outbound_message
from events.currency import parse_rates
from events.models import EventPolicy
from events.topics import DLQ_REASON, DLQ_SOURCE_OFFSET, DLQ_SOURCE_TOPIC, TopicNames
from tests.support.crm import (
    SALESFORCE_ORG,
    fixture_bytes,
    fixture_json,
    fixture_mapping,
    soap_notifications,
)

MAPPING = fixture_mapping()
NAMES = TopicNames("t.")
NOW = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)
ORIGIN = Origin(NAMES.crm_deliveries, 2, 41)
RATES = parse_rates("date,currency,rate\n2026-01-01,USD,0.9\n", "EUR")
UNRATED = EventPolicy(clock=lambda: NOW)
RATED = EventPolicy(rates=RATES, clock=lambda: NOW)
ASSOCIATION_CHANGE = fixture_json("hubspot_association_change.json")  # no objectId


def hubspot_change(object_id: int, name: str, value: str, event_id: int = 1) -> dict:
    return {
        "eventId": event_id,
        "subscriptionId": 234568,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1771063200000,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }


def make_delivery(vendor: str, body: bytes) -> RawDelivery:
    return RawDelivery(vendor, "d-1", NOW, body, {"content-type": "application/json"})


def make_context(policy: EventPolicy = UNRATED, sources: dict | None = None) -> Context:
    return Context(MAPPING, policy, NAMES, ZoneInfo("UTC"), sources or {})


async def interpreted(delivery: RawDelivery, context: Context | None = None):
    record = delivery_record(delivery, NAMES.crm_deliveries)
    return await interpret(record.key, record.value, ORIGIN, context or make_context())


def events_of(result) -> list[dict]:
    return [orjson.loads(r.value) for r in result.records if r.topic == NAMES.deal_events]


def letters_of(result) -> list:
    return [r for r in result.records if r.topic == NAMES.dead_letters]


def mixed_hubspot_delivery() -> list[dict]:
    """A won deal, an association change, a deal in an unrated currency, a contact."""
    won = fixture_json("hubspot_deal_won.json")
    usd = [
        hubspot_change(9100, "amount", "500", event_id=11),
        hubspot_change(9100, "deal_currency_code", "USD", event_id=12),
    ]
    contact = {**hubspot_change(77, "email", "a@b.c", 13), "subscriptionType": "contact.creation"}
    return [*won, ASSOCIATION_CHANGE, *usd, contact]


async def test_a_mixed_hubspot_delivery_publishes_the_good_items_and_dead_letters_the_bad():
    delivery = make_delivery("hubspot", orjson.dumps(mixed_hubspot_delivery()))

    result = await interpreted(delivery)

    assert [e["type"] for e in events_of(result)] == ["deal.won"]
    assert result.skipped == {"association_change": 1, "not_a_deal": 1, "currency_only": 1}
    [letter] = letters_of(result)
    headers = dict(letter.headers)
    assert headers[DLQ_REASON].decode().startswith("currency:")
    assert headers[DLQ_SOURCE_TOPIC] == NAMES.crm_deliveries.encode()
    assert headers[DLQ_SOURCE_OFFSET] == b"41"
    held = orjson.loads(decode_delivery(letter.value).body)
    assert [item["propertyName"] for item in held] == ["amount", "deal_currency_code"]
    assert letter.key == "hubspot"
    assert result.dead_letters == {"currency": 1}


async def test_a_dead_letter_interpreted_again_after_the_rate_is_configured_publishes_its_item():
    first = await interpreted(make_delivery("hubspot", orjson.dumps(mixed_hubspot_delivery())))
    [letter] = letters_of(first)

    again = await interpret(letter.key, letter.value, ORIGIN, make_context(RATED))

    [event] = events_of(again)
    assert (event["amount"], event["currency"], event["deal_id"]) == (500, "USD", "hubspot-9100")
    assert letters_of(again) == []


@pytest.mark.parametrize(
    ("notifications", "published", "reason"),
    [
        ([("04lA", {"Id": "0065g00000OPP09AAA"})], 0, "deleted"),
        ([("04lA", {})], 0, "deleted"),
        ([("04lA", {"Id": "0065g00000OPP09AAA", "Amount": "lots"})], 0, "invalid_payload"),
    ],
)
async def test_a_bad_salesforce_notification_is_a_dead_letter_and_its_siblings_count(
    notifications, published, reason
):
    good = (
        "04lG",
        {
            "Id": "0065g00000OPP01AAA",
            "IsWon": "true",
            "IsClosed": "true",
            "LastModifiedDate": "2026-02-14T15:00:00.000Z",
        },
    )
    body = soap_notifications(SALESFORCE_ORG, [good, *notifications])

    result = await interpreted(make_delivery("salesforce", body))

    assert [e["deal_id"] for e in events_of(result)] == ["salesforce-0065g00000OPP01AAA"]
    [letter] = letters_of(result)
    held = parse_outbound_message(decode_delivery(letter.value).body)
    assert [n.id for n in held.notifications] == ["04lA"]
    assert result.dead_letters == {reason: 1}


def test_a_salesforce_notification_written_back_reads_as_the_same_notification():
    message = parse_outbound_message(fixture_bytes("salesforce_opportunity_won.xml"))

    again = parse_outbound_message(
        outbound_message(message.organization_id, message.notifications[1:])
    )

    assert again.organization_id == message.organization_id
    assert again.notifications == message.notifications[1:]


async def test_a_body_that_is_no_vendor_delivery_at_all_is_one_dead_letter_as_it_came():
    delivery = make_delivery("pipedrive", b"[1, 2]")

    result = await interpreted(delivery)

    [letter] = letters_of(result)
    assert decode_delivery(letter.value).body == b"[1, 2]"
    assert events_of(result) == []


async def test_a_record_that_is_no_delivery_is_dead_lettered_with_its_bytes():
    result = await interpret(b"hubspot", b"not json", ORIGIN, make_context())

    [letter] = letters_of(result)
    assert (letter.key, letter.value) == (b"hubspot", b"not json")
    assert dict(letter.headers)[DLQ_REASON].startswith(b"delivery:")


@pytest.mark.parametrize(
    ("item", "skipped"),
    [
        ({**hubspot_change(9001, "amount", "1"), "subscriptionType": "deal.deletion"}, "deletion"),
        (ASSOCIATION_CHANGE, "association_change"),
        (hubspot_change(9001, "description", "hello"), "unused_property"),
        (hubspot_change(9001, "amount", ""), "empty_value"),
        ({**hubspot_change(5, "name", "x"), "subscriptionType": "company.creation"}, "not_a_deal"),
    ],
)
def test_hubspot_items_the_product_does_not_use_are_skipped_with_a_reason(item, skipped):
    [outcome] = hubspot_outcomes([item], MAPPING)

    assert (outcome.skipped, outcome.failure, outcome.events) == (skipped, None, ())


@pytest.mark.parametrize(
    ("changes", "currency"),
    [
        ([("amount", "10"), ("deal_currency_code", "USD")], "USD"),
        ([("deal_currency_code", "GBP"), ("amount", "10"), ("deal_currency_code", "USD")], "USD"),
        ([("amount", "10")], None),
    ],
)
def test_a_hubspot_amount_takes_the_deals_currency_from_the_delivery(changes, currency):
    items = [hubspot_change(9001, name, value, i) for i, (name, value) in enumerate(changes)]
    outcomes = hubspot_outcomes(items, MAPPING)

    [event] = [e for o in outcomes for e in o.events]
    assert event.get("currency") == currency


def test_without_a_currency_of_its_own_a_deal_takes_the_vendors_configured_default():
    mapping = MAPPING.model_copy(
        update={"hubspot": MAPPING.hubspot.model_copy(update={"currency": "CHF"})}
    )

    [outcome] = hubspot_outcomes([hubspot_change(9001, "amount", "10")], mapping)

    assert outcome.events[0]["currency"] == "CHF"


@pytest.mark.parametrize("version", ["pipedrive_v2_create.json", "pipedrive_v1_updated_lost.json"])
def test_a_pipedrive_deal_keeps_its_own_currency(version):
    payload = fixture_json(version)
    deal = payload.get("data") or payload.get("current")
    deal["currency"] = "USD"

    amounts = [e for e in pipedrive_events(payload, MAPPING) if "amount" in e]

    assert amounts and {e["currency"] for e in amounts} == {"USD"}


@pytest.mark.parametrize(("given", "currency"), [("USD", "USD"), (None, None)])
def test_a_salesforce_opportunity_keeps_its_currency_iso_code(given, currency):
    fields = {
        "Id": "0065g00000OPP01AAA",
        "Amount": "10",
        "OwnerId": "0055g00000USR01AAA",
        "LastModifiedDate": "2026-02-14T15:00:00.000Z",
    }
    if given:
        fields["CurrencyIsoCode"] = given
    body = soap_notifications(SALESFORCE_ORG, [("04lA", fields)])

    [event] = salesforce_events(parse_outbound_message(body), MAPPING, NOW, ZoneInfo("UTC"))

    assert event.get("currency") == currency


def test_webhook_ids_are_the_deals_state_ids():
    body = fixture_bytes("salesforce_opportunity_won.xml")
    events = salesforce_events(parse_outbound_message(body), MAPPING, NOW, ZoneInfo("UTC"))
    won = next(e for e in events if e["type"] == "deal.won")
    created = next(e for e in events if e["type"] == "deal.created")

    at = datetime(2026, 2, 14, 15, 0, tzinfo=UTC)
    assert won["event_id"] == deal_ids.status_change_id("salesforce", won["deal_id"], "won", at)
    assert created["event_id"] == deal_ids.created_id("salesforce", created["deal_id"])


def test_a_hubspot_creation_batched_differently_gives_the_same_ids():
    together = fixture_json("hubspot_new_deal.json")
    creation, *changes = together

    apart = [e for o in hubspot_outcomes(together, MAPPING) for e in o.events]
    alone = [e for o in hubspot_outcomes(changes, MAPPING) for e in o.events]

    assert {e["event_id"] for e in alone} <= {e["event_id"] for e in apart}


class FakeDealSource:
    """Answers from a table of deal id -> events and one of deal id -> refusal reason, or
    raises what it is given; a ``DealSource``."""

    vendor = "hubspot"

    def __init__(
        self,
        answer: dict | None = None,
        error: Exception | None = None,
        refused: dict[str, str] | None = None,
    ) -> None:
        self.answer, self.error, self.asked = answer or {}, error, []
        self.refused = refused or {}
        self.closed = False

    async def fetch(self, deal_ids_asked: Sequence[str]) -> DealBatch:
        self.asked.append(list(deal_ids_asked))
        if self.error is not None:
            raise self.error
        return DealBatch(
            events={d: self.answer[d] for d in deal_ids_asked if d in self.answer},
            refused={d: self.refused[d] for d in deal_ids_asked if d in self.refused},
        )

    async def deal_events(self, deal_ids_asked: Sequence[str]) -> dict[str, list[dict]]:
        return (await self.fetch(deal_ids_asked)).events

    async def close(self) -> None:
        self.closed = True


class FakeHubSpotHttp:
    """The two HubSpot API calls a deal source makes, answered from deal records."""

    def __init__(self, records: list[dict]) -> None:
        self.records, self.paths = records, []

    async def post(self, path: str, body: dict) -> dict:
        self.paths.append(path)
        asked = {item["id"] for item in body["inputs"]}
        if path == hubspot_api.BATCH_READ:
            return {"results": [r for r in self.records if r["id"] in asked]}
        return {"results": []}

    async def close(self) -> None:
        pass


def complete_creation(deal: str = "9001") -> list[dict]:
    deal_id = f"hubspot-{deal}"
    return [
        {
            "event_id": deal_ids.created_id("hubspot", deal_id),
            "type": "deal.created",
            "occurred_at": "2026-02-14T10:00:00Z",
            "deal_id": deal_id,
            "source": "hubspot",
            "rep_id": "rep-ana",
            "team_id": "team-north",
            "customer_id": "company-35201",
            "amount": 1200,
        }
    ]


async def test_with_a_deal_source_its_complete_events_replace_the_webhooks():
    source = FakeDealSource({"9001": complete_creation()})
    payload = [*fixture_json("hubspot_new_deal.json"), ASSOCIATION_CHANGE]

    result = await interpreted(
        make_delivery("hubspot", orjson.dumps(payload)), make_context(sources={"hubspot": source})
    )

    assert source.asked == [["9001"]]
    assert events_of(result) == complete_creation()
    assert result.skipped == {"association_change": 1}


async def test_a_deal_the_source_no_longer_knows_is_skipped_as_deleted():
    source = FakeDealSource({})
    delivery = make_delivery("hubspot", orjson.dumps(fixture_json("hubspot_deal_won.json")))

    result = await interpreted(delivery, make_context(sources={"hubspot": source}))

    assert result.records == []
    assert result.skipped == {"deal_deleted": 1}


async def test_a_deal_the_source_refuses_is_a_dead_letter_of_its_items_with_the_reason():
    reason = "deal 9001.amount: 'lots' is not a number"
    source = FakeDealSource({"9002": complete_creation("9002")}, refused={"9001": reason})
    payload = [
        *fixture_json("hubspot_new_deal.json"),
        hubspot_change(9002, "amount", "1200", event_id=7),
    ]

    result = await interpreted(
        make_delivery("hubspot", orjson.dumps(payload)), make_context(sources={"hubspot": source})
    )

    assert events_of(result) == complete_creation("9002")
    [letter] = letters_of(result)
    assert dict(letter.headers)[DLQ_REASON].decode() == reason
    held = orjson.loads(decode_delivery(letter.value).body)
    assert [item["eventId"] for item in held] == [1001, 1002, 1003, 1004, 1005]
    assert result.skipped == {}
    assert result.dead_letters == {"invalid_payload": 1}


async def test_a_deal_whose_hubspot_record_breaks_the_mapping_is_a_dead_letter_not_deleted():
    record = {
        "id": "9001",
        "properties": {
            "amount": "lots",
            "hubspot_owner_id": "31337",
            "createdate": "2026-02-14T10:00:00Z",
            "hs_lastmodifieddate": "2026-02-14T15:00:00Z",
        },
    }
    http = FakeHubSpotHttp([record])
    source = hubspot_api.HubSpotDeals(http, MAPPING)
    delivery = make_delivery("hubspot", orjson.dumps(fixture_json("hubspot_new_deal.json")))

    result = await interpreted(delivery, make_context(sources={"hubspot": source}))

    assert http.paths[0] == hubspot_api.BATCH_READ
    assert events_of(result) == []
    assert "deal_deleted" not in result.skipped
    [letter] = letters_of(result)
    assert "amount" in dict(letter.headers)[DLQ_REASON].decode()
    assert len(orjson.loads(decode_delivery(letter.value).body)) == 5


async def test_a_hubspot_source_answers_under_the_ids_as_they_were_asked():
    noon = "2026-02-14T12:00:00Z"
    records = [
        {"id": "9001", "properties": {"amount": "x", "hs_lastmodifieddate": noon}},
        {"id": "9002", "properties": {"amount": "5", "hs_lastmodifieddate": noon}},
    ]
    source = hubspot_api.HubSpotDeals(FakeHubSpotHttp(records), MAPPING)

    answer = await source.fetch(["9001", "hubspot-9002", "9003"])

    assert list(answer.refused) == ["9001"]
    assert list(answer.events) == ["hubspot-9002"]


async def test_a_source_answer_in_an_unrated_currency_is_a_dead_letter_of_the_deals_items():
    answer = [{**complete_creation()[0], "currency": "USD"}]
    source = FakeDealSource({"9001": answer})
    delivery = make_delivery("hubspot", orjson.dumps(fixture_json("hubspot_new_deal.json")))

    result = await interpreted(delivery, make_context(sources={"hubspot": source}))

    [letter] = letters_of(result)
    assert len(orjson.loads(decode_delivery(letter.value).body)) == 5
    assert events_of(result) == []


async def test_an_unavailable_source_leaves_the_delivery_to_be_tried_again():
    source = FakeDealSource(error=VendorUnavailable("429 past the retry budget"))
    delivery = make_delivery("hubspot", orjson.dumps(fixture_json("hubspot_deal_won.json")))

    with pytest.raises(VendorUnavailable):
        await interpreted(delivery, make_context(sources={"hubspot": source}))


async def test_a_refusing_source_falls_back_to_the_webhooks_own_content():
    source = FakeDealSource(error=VendorRefused("401: token lacks crm.objects.deals.read"))
    delivery = make_delivery("hubspot", orjson.dumps(fixture_json("hubspot_deal_won.json")))

    result = await interpreted(delivery, make_context(sources={"hubspot": source}))

    assert [e["type"] for e in events_of(result)] == ["deal.won"]
    assert result.source_refused


@pytest.mark.parametrize(
    "body", [b'[{"a": 1}]', "<x>caf\u00e9</x>".encode(), b"\xff\xfe not utf-8"]
)
def test_a_stored_delivery_reads_back_byte_for_byte(body):
    delivery = make_delivery("salesforce", body)

    assert decode_delivery(encode_delivery(delivery)) == delivery


def test_a_stored_delivery_keeps_no_credential_of_the_request():
    headers = {
        "content-type": "application/json",
        "authorization": "Basic c2VjcmV0",
        "x-hubspot-signature-v3": "sig",
        "x-hubspot-request-timestamp": "1",
    }

    delivery = received("pipedrive", b"{}", headers, NOW)

    assert dict(delivery.headers) == {"content-type": "application/json"}


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"[]",
        b'{"format": 2}',
        b'{"format": 1, "vendor": "zoho", "delivery_id": "x", "received_at": "2026-02-14",'
        b' "body": ""}',
        b'{"format": 1, "vendor": "hubspot", "delivery_id": "x", "received_at": "yesterday",'
        b' "body": ""}',
        b'{"format": 1, "vendor": "hubspot", "delivery_id": "x", "received_at": '
        b'"2026-02-14T00:00:00Z", "body_base64": "%%%"}',
    ],
)
def test_a_record_that_is_not_a_delivery_is_unreadable_with_a_reason(value):
    with pytest.raises(UnreadableDelivery, match="^delivery: "):
        decode_delivery(value)


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("currency: USD has no rate", "currency"),
        ("[3].objectId: required", "invalid_payload"),
        ("deleted: Notification[1].sObject is empty", "deleted"),
    ],
)
def test_dead_letter_reasons_have_bounded_metric_labels(reason, label):
    assert reason_label(reason) == label


def test_salesforce_outcomes_are_one_per_notification():
    body = soap_notifications(SALESFORCE_ORG, [("04lA", {}), ("04lB", {"Id": "006X"})])
    outcomes = salesforce_outcomes(parse_outbound_message(body), MAPPING, NOW, ZoneInfo("UTC"))

    assert [o.index for o in outcomes] == [0, 1]
    assert all(o.failure and o.failure.startswith("deleted:") for o in outcomes)
