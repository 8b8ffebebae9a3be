"""Salesforce Outbound Messages -> native events: parsing, every mapping rule, XML safety."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from events.crm.common import InvalidDelivery
from events.crm.mapping import CrmMapping
from events.crm.salesforce import organization_matches, salesforce_events
from events.crm.salesforce_soap import ACK, fault, parse_outbound_message
from events.models import validate_event
from tests.support.crm import SALESFORCE_ORG, fixture_bytes, fixture_mapping, soap_notifications
from tests.support.factories import POLICY

MAPPING = fixture_mapping()
NOW = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
SOAP_ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"

OPEN = {
    "Id": "0065g00000OPP09AAA",
    "AccountId": "0015g00000ACC09AAA",
    "Amount": "700.0",
    "CreatedDate": "2026-02-10T09:00:00.000Z",
    "IsClosed": "false",
    "IsWon": "false",
    "LastModifiedDate": "2026-02-12T09:30:00.000Z",
    "OwnerId": "0055g00000USR01AAA",
    "StageName": "Prospecting",
}


def mapped(fields: dict | list[dict], mapping: CrmMapping = MAPPING, zone=UTC_ZONE) -> list[dict]:
    items = fields if isinstance(fields, list) else [fields]
    body = soap_notifications(SALESFORCE_ORG, [(f"04l{i:015d}", f) for i, f in enumerate(items)])
    events = salesforce_events(parse_outbound_message(body), mapping, NOW, zone)
    for event in events:
        validate_event(event, POLICY)
    return events


def summary(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["occurred_at"]) for e in events]


def test_the_documented_example_maps_to_updates_creations_and_a_win():
    message = parse_outbound_message(fixture_bytes("salesforce_opportunity_won.xml"))
    events = salesforce_events(message, MAPPING, NOW, UTC_ZONE)

    assert message.organization_id == SALESFORCE_ORG
    assert [(e["type"], e["deal_id"], e["occurred_at"]) for e in events] == [
        ("deal.updated", "salesforce-0065g00000OPP01AAA", "2026-02-14T15:00:05Z"),
        ("deal.created", "salesforce-0065g00000OPP01AAA", "2026-02-14T10:00:00Z"),
        ("deal.won", "salesforce-0065g00000OPP01AAA", "2026-02-14T15:00:00Z"),
        ("deal.updated", "salesforce-0065g00000OPP02AAA", "2026-02-14T11:00:00Z"),
        ("deal.created", "salesforce-0065g00000OPP02AAA", "2026-02-14T11:00:00Z"),
    ]
    assert {k: events[1][k] for k in ("rep_id", "team_id", "customer_id", "amount")} == {
        "rep_id": "rep-cy",
        "team_id": "team-east",
        "customer_id": "0015g00000ACC01AAA",
        "amount": 4000,
    }
    assert events[3]["team_id"] == "team-default"  # listed owner without a team


@pytest.mark.parametrize(
    ("fields", "status_event"),
    [
        ({"IsWon": "true", "IsClosed": "true"}, "deal.won"),
        ({"IsWon": "false", "IsClosed": "true"}, "deal.lost"),
        ({"IsWon": "false", "IsClosed": "false"}, None),  # open, no stage-change time: no reopen
        ({"IsWon": None, "IsClosed": None, "StageName": "Closed Won"}, "deal.won"),
        ({"IsWon": None, "IsClosed": None, "StageName": "Closed Lost"}, "deal.lost"),
        ({"IsWon": None, "IsClosed": None, "StageName": "Negotiation"}, None),
        ({"IsWon": "true", "IsClosed": None, "StageName": "Negotiation"}, "deal.won"),
    ],
)
def test_status_comes_from_is_won_and_is_closed_or_else_the_stage(fields, status_event):
    merged = {k: v for k, v in {**OPEN, **fields}.items() if v is not None}

    types = [e["type"] for e in mapped(merged)]

    assert types[:2] == ["deal.updated", "deal.created"]
    assert types[2:] == ([status_event] if status_event else [])


def test_an_open_opportunity_with_a_stage_change_time_is_reopened_at_that_time():
    events = mapped({**OPEN, "LastStageChangeDate": "2026-02-11T08:00:00.000Z"})

    assert summary(events)[2] == ("deal.reopened", "2026-02-11T08:00:00Z")


def test_reopen_can_be_switched_off():
    mapping = CrmMapping.model_validate({"salesforce": {"emit_reopened": False}})

    events = mapped({**OPEN, "LastStageChangeDate": "2026-02-11T08:00:00.000Z"}, mapping)

    assert "deal.reopened" not in [e["type"] for e in events]


WON = {**OPEN, "IsWon": "true", "IsClosed": "true", "StageName": "Closed Won"}


@pytest.mark.parametrize(
    ("extra", "won_at"),
    [
        (
            {"LastStageChangeDate": "2026-02-13T17:45:00.000Z", "CloseDate": "2026-02-13"},
            "2026-02-13T17:45:00Z",
        ),
        ({"CloseDate": "2026-02-13"}, "2026-02-13T00:00:00Z"),
        ({"CloseDate": "2026-03-31"}, "2026-02-12T09:30:00Z"),  # future close date: modified time
        ({}, "2026-02-12T09:30:00Z"),
    ],
)
def test_the_win_time_is_the_stage_change_then_the_close_date_then_the_modification(extra, won_at):
    assert summary(mapped({**WON, **extra}))[-1] == ("deal.won", won_at)


def test_a_close_date_is_midnight_in_the_reporting_time_zone():
    events = mapped({**WON, "CloseDate": "2026-02-13"}, zone=ZoneInfo("Europe/Paris"))

    assert events[-1]["occurred_at"] == "2026-02-12T23:00:00Z"


def test_without_any_modification_time_the_arrival_time_is_used():
    fields = {k: v for k, v in WON.items() if k != "LastModifiedDate"}

    assert summary(mapped(fields))[0] == ("deal.updated", "2026-02-14T16:00:00Z")


def test_a_lost_opportunity_carries_the_configured_reason_field():
    fields = {**OPEN, "IsClosed": "true", "Loss_Reason__c": "Price"}

    assert mapped(fields)[-1]["reason"] == "Price"


def test_currency_and_channel_fields_are_mapped():
    mapping = CrmMapping.model_validate({"salesforce": {"channel_field": "LeadSource"}})

    [updated, *_] = mapped({**OPEN, "CurrencyIsoCode": "EUR", "LeadSource": "Web"}, mapping)

    assert (updated["currency"], updated["channel"]) == ("EUR", "Web")


def test_without_created_date_or_an_account_there_is_no_deal_created():
    no_created = {k: v for k, v in OPEN.items() if k != "CreatedDate"}
    no_account = {k: v for k, v in OPEN.items() if k != "AccountId"}

    assert [e["type"] for e in mapped(no_created)] == ["deal.updated"]
    assert [e["type"] for e in mapped(no_account)] == ["deal.updated"]


def test_other_sobjects_are_ignored():
    body = soap_notifications(SALESFORCE_ORG, [("04l1", OPEN)]).replace(
        b"sf:Opportunity", b"sf:Lead"
    )

    assert salesforce_events(parse_outbound_message(body), MAPPING, NOW, UTC_ZONE) == []


def test_notifications_restating_the_same_state_give_the_same_ids_and_a_new_state_new_ones():
    body = soap_notifications(SALESFORCE_ORG, [("04lA", WON)])
    restated = soap_notifications(SALESFORCE_ORG, [("04lB", WON)])
    later = {**WON, "LastModifiedDate": "2026-02-14T15:30:00.000Z", "Amount": "4100.0"}
    changed = soap_notifications(SALESFORCE_ORG, [("04lC", later)])

    def ids(raw: bytes) -> list[str]:
        events = salesforce_events(parse_outbound_message(raw), MAPPING, NOW, UTC_ZONE)
        return [e["event_id"] for e in events if e["type"] == "deal.updated"]

    assert ids(body) == ids(restated)
    assert set(ids(body)).isdisjoint(ids(changed))


@pytest.mark.parametrize(
    ("configured", "given", "matches"),
    [
        ("00D5g000004ABCDEAZ", "00D5g000004ABCDEAZ", True),
        ("00D5g000004ABCD", "00D5g000004ABCDEAZ", True),  # 15-character form configured
        ("00D5g000004ABCDEAZ", "00D5g000004ABCD", True),
        ("00D5g000004ABCDEAZ", "00D5g000004abcdEAZ", False),  # ids are case-sensitive
        ("00D5g000004ABCDEAZ", "00D5g000004ZZZZEAZ", False),
        ("00D5g000004ABCDEAZ", "00D5g", False),
    ],
)
def test_organization_ids_compare_on_their_15_character_form(configured, given, matches):
    assert organization_matches(configured, given) is matches


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({**OPEN, "Amount": "a lot"}, "Notification[0].sObject.Amount"),
        ({**OPEN, "IsWon": "yes"}, "Notification[0].sObject.IsWon: must be true or false"),
        ({**OPEN, "CloseDate": "14/02/2026"}, "Notification[0].sObject.CloseDate"),
        ({**OPEN, "CloseDate": "2026-02-30"}, "Notification[0].sObject.CloseDate"),
        ({**OPEN, "LastModifiedDate": "yesterday"}, "Notification[0].sObject.LastModifiedDate"),
        ({k: v for k, v in OPEN.items() if k != "Id"}, "Notification[0].sObject.Id: required"),
    ],
)
def test_bad_field_values_are_refused_with_a_reason(fields, reason):
    with pytest.raises(InvalidDelivery) as refused:
        mapped(fields)
    assert refused.value.reason.startswith(reason)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">&lol2;</soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">&xxe;</soapenv:Envelope>"""
DOCTYPE_ONLY = b"""<?xml version="1.0"?><!DOCTYPE foo SYSTEM "http://example.com/x.dtd">
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"/>"""


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (BILLION_LAUGHS, 400),
        (EXTERNAL_ENTITY, 400),
        (DOCTYPE_ONLY, 400),
        (b"<not-closed>", 400),
        (b"", 400),
        (b"<a/>", 422),
        (soap_notifications(SALESFORCE_ORG, []), 422),
        (soap_notifications("", [("04l1", OPEN)]), 422),
    ],
)
def test_unsafe_or_malformed_xml_is_refused(body, status):
    with pytest.raises(InvalidDelivery) as refused:
        parse_outbound_message(body)
    assert refused.value.status == status


def test_more_than_100_notifications_is_too_many():
    body = soap_notifications(SALESFORCE_ORG, [(f"04l{i}", OPEN) for i in range(101)])

    with pytest.raises(InvalidDelivery) as refused:
        parse_outbound_message(body)
    assert (refused.value.status, refused.value.code) == (413, "too_many_events")


def test_the_ack_is_salesforces_notifications_response():
    root = ElementTree.fromstring(ACK)

    ack = root.find(f"{SOAP_ENV}Body/{OUTBOUND}notificationsResponse/{OUTBOUND}Ack")
    assert ack is not None and ack.text == "true"


def test_a_fault_is_a_soap_fault_with_its_message_escaped():
    root = ElementTree.fromstring(fault("Client", "bad <input> & more"))

    found = root.find(f"{SOAP_ENV}Body/{SOAP_ENV}Fault")
    assert found is not None
    assert found.findtext("faultcode") == "soapenv:Client"
    assert found.findtext("faultstring") == "bad <input> & more"
