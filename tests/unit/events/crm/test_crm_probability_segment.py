"""Contract v2 from every CRM: probability of closing (scaled to 0..1) and customer type (segment).

Each vendor writes a probability on its documented scale (HubSpot's ``hs_deal_stage_probability``
0..1, Pipedrive's and Salesforce's ``probability`` in percent); the adapters publish the contract's
0..1 number, leave it out when the CRM has none (absent is not 0 %), and refuse a malformed or
out-of-range one like a bad amount: the delivery is refused with the field named.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from events.crm.common import InvalidDelivery
from events.crm.hubspot import hubspot_events
from events.crm.mapping import CrmMapping, MappingError, load_mapping
from events.crm.pipedrive import pipedrive_events
from events.crm.salesforce import salesforce_events
from events.crm.salesforce_soap import parse_outbound_message
from events.models import validate_event
from tests.support.crm import SALESFORCE_ORG, fixture_json, fixture_mapping, soap_notifications
from tests.support.factories import POLICY

NOW = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)
PIPEDRIVE_SEGMENT_KEY = "custom_fields.5f1c0a9e2b7d4c3e8a6b1d0f9e8c7b6a5d4c3b2a"


@pytest.fixture
def crm_mapping():
    """Factory: the test CRM mapping with each vendor's segment field set (and ``extra`` keys)."""

    def build(**extra: dict) -> CrmMapping:
        base = fixture_mapping()
        tables = {
            "hubspot": {"segment_property": "customer_type"},
            "pipedrive": {"segment_field": PIPEDRIVE_SEGMENT_KEY},
            "salesforce": {"segment_field": "Account_Type__c"},
        }
        updates = {
            vendor: getattr(base, vendor).model_copy(update={**table, **extra.get(vendor, {})})
            for vendor, table in tables.items()
        }
        return base.model_copy(update=updates)

    return build


def hubspot(probability: object, segment: object, mapping: CrmMapping) -> list[dict]:
    """A deal.creation batched with its properties, as HubSpot documents its deliveries."""
    values = {
        "hubspot_owner_id": "31337",
        "amount": "1200",
        "customer_id": "c-1",
        "hs_deal_stage_probability": probability,
        "customer_type": segment,
    }
    changes = [
        {
            "eventId": index,
            "subscriptionId": 234568,
            "portalId": 62515,
            "occurredAt": 1771081200000,
            "subscriptionType": "deal.propertyChange",
            "objectId": 9001,
            "propertyName": name,
            "propertyValue": value,
        }
        for index, (name, value) in enumerate(values.items())
        if value is not None
    ]
    creation = {**changes[0], "eventId": 100, "subscriptionType": "deal.creation"}
    del creation["propertyName"], creation["propertyValue"]
    return hubspot_events([creation, *changes], mapping)


def pipedrive(probability: object, segment: object, mapping: CrmMapping) -> list[dict]:
    """A webhooks v2 ``change.deal``: ``data`` is the whole deal, probability null by default."""
    payload = fixture_json("pipedrive_v2_won.json")
    payload["data"]["probability"] = probability
    payload["data"]["custom_fields"] = {PIPEDRIVE_SEGMENT_KEY.split(".")[1]: segment}
    return pipedrive_events(payload, mapping)


def salesforce(probability: object, segment: object, mapping: CrmMapping) -> list[dict]:
    """An Outbound Message restating an open Opportunity (percent fields are XML text)."""
    fields = {
        "Id": "0065g00000OPP09AAA",
        "AccountId": "0015g00000ACC09AAA",
        "Amount": "700.0",
        "OwnerId": "0055g00000USR01AAA",
        "IsClosed": "false",
        "IsWon": "false",
        "LastModifiedDate": "2026-02-12T09:30:00.000Z",
        "Probability": probability,
        "Account_Type__c": segment,
    }
    body = soap_notifications(SALESFORCE_ORG, [("04l000000000000001", fields)])
    message = parse_outbound_message(body)
    return salesforce_events(message, mapping, NOW, ZoneInfo("UTC"))


ADAPTERS = {"hubspot": hubspot, "pipedrive": pipedrive, "salesforce": salesforce}


def deal_attrs(vendor: str, probability, segment, mapping: CrmMapping) -> dict:
    """The attributes the delivery's events set, after every event passed the contract."""
    attrs: dict = {}
    for event in ADAPTERS[vendor](probability, segment, mapping):
        validate_event(event, POLICY)
        attrs.update(event)
    return attrs


@pytest.mark.parametrize(
    ("vendor", "sent", "probability"),
    [
        ("hubspot", "0.2", 0.2),
        ("hubspot", "0.200000000000000011102230246251565404236316680908203125", 0.2),
        ("hubspot", "1", 1),
        ("hubspot", "0", 0),
        ("pipedrive", 35, 0.35),
        ("pipedrive", 12.5, 0.125),
        ("pipedrive", 100, 1),
        ("salesforce", "10.0", 0.1),
        ("salesforce", "35", 0.35),
        ("salesforce", "0", 0),
    ],
)
def test_each_crms_probability_is_published_on_the_contracts_zero_to_one_scale(
    crm_mapping, vendor, sent, probability
):
    attrs = deal_attrs(vendor, sent, "smb", crm_mapping())

    assert attrs["probability"] == probability
    assert type(attrs["probability"]) is type(probability)


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
@pytest.mark.parametrize("sent", [None, ""])
def test_a_probability_the_crm_does_not_send_is_absent_not_zero(crm_mapping, vendor, sent):
    attrs = deal_attrs(vendor, sent, "smb", crm_mapping())

    assert "probability" not in attrs
    assert attrs["segment"] == "smb"


@pytest.mark.parametrize(
    ("vendor", "sent", "field"),
    [
        ("hubspot", "1.5", "[4].propertyValue: probability '1.5' is out of range: 0 to 1"),
        ("hubspot", "20", "[4].propertyValue: probability '20' is out of range: 0 to 1"),
        ("hubspot", "abc", "[4].propertyValue: probability 'abc' is not a number"),
        ("pipedrive", 150, "deal.probability: probability '150' is out of range: 0 to 100"),
        ("pipedrive", -5, "deal.probability: probability '-5' is out of range: 0 to 100"),
        ("pipedrive", "abc", "deal.probability: probability 'abc' is not a number"),
        ("pipedrive", True, "deal.probability: probability must be a number"),
        pytest.param(
            "pipedrive",
            10**5000,
            "deal.probability: probability is out of range: 0 to 100",
            id="pipedrive-an-int-too-long-to-print",
        ),
        (
            "salesforce",
            "150.0",
            "Notification[0].sObject.Probability: probability '150.0' is out of range: 0 to 100",
        ),
        (
            "salesforce",
            "NaN",
            "Notification[0].sObject.Probability: probability 'NaN' is out of range: 0 to 100",
        ),
    ],
)
def test_a_malformed_or_out_of_range_probability_refuses_the_delivery_naming_the_field(
    crm_mapping, vendor, sent, field
):
    with pytest.raises(InvalidDelivery) as refused:
        ADAPTERS[vendor](sent, "smb", crm_mapping())

    assert refused.value.reason == field
    assert (refused.value.status, refused.value.code) == (422, "invalid_payload")


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
def test_the_segment_comes_from_the_configured_field_and_is_absent_without_one(crm_mapping, vendor):
    configured = deal_attrs(vendor, None, "Enterprise", crm_mapping())
    unset = {"segment_property": None} if vendor == "hubspot" else {"segment_field": None}
    unconfigured = deal_attrs(vendor, None, "Enterprise", crm_mapping(**{vendor: unset}))

    assert configured["segment"] == "Enterprise"
    assert "segment" not in unconfigured


@pytest.mark.parametrize(
    ("vendor", "sent"),
    [("hubspot", "42"), ("pipedrive", 42), ("pipedrive", {"id": 42}), ("salesforce", "42")],
)
def test_segment_values_translate_a_crm_option_id_into_the_native_segment(
    crm_mapping, vendor, sent
):
    mapping = crm_mapping(**{vendor: {"segment_values": {"42": "mid-market"}}})

    assert deal_attrs(vendor, None, sent, mapping)["segment"] == "mid-market"


def test_a_segment_longer_than_the_contract_allows_refuses_the_event_not_a_cut_label(crm_mapping):
    event = pipedrive(None, "x" * 65, crm_mapping())[0]

    assert event["segment"] == "x" * 65
    with pytest.raises(ValueError, match="segment: must be a string of 1 to 64 characters"):
        validate_event(event, POLICY)


@pytest.mark.parametrize(
    ("own", "stage_table", "probability"),
    [
        (None, {"5": 40}, 0.4),
        (70, {"5": 40}, 0.7),
        (None, {"4": 40}, None),
        (None, {}, None),
    ],
)
def test_a_pipedrive_deal_without_its_own_probability_takes_its_stages_from_the_mapping(
    crm_mapping, own, stage_table, probability
):
    mapping = crm_mapping(pipedrive={"stage_probabilities": stage_table})

    attrs = deal_attrs("pipedrive", own, "smb", mapping)

    assert attrs.get("probability") == probability


def test_a_probability_property_change_alone_is_a_deal_updated_with_it(crm_mapping):
    change = {
        "eventId": 7,
        "subscriptionId": 1,
        "portalId": 62515,
        "occurredAt": 1771081200000,
        "subscriptionType": "deal.propertyChange",
        "objectId": 9001,
        "propertyName": "hs_deal_stage_probability",
        "propertyValue": "0.6",
    }

    [event] = hubspot_events([change], crm_mapping())

    assert (event["type"], event["probability"]) == ("deal.updated", 0.6)
    assert "segment" not in event


def test_the_mapping_file_refuses_a_segment_value_the_contract_would_refuse(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text(f'[pipedrive.segment_values]\n"42" = "{"x" * 65}"\n')

    with pytest.raises(MappingError, match="pipedrive.segment_values.42"):
        load_mapping(path)


def test_the_mapping_file_refuses_a_stage_probability_that_is_not_a_percent(tmp_path):
    path = tmp_path / "mapping.toml"
    path.write_text('[pipedrive.stage_probabilities]\n"5" = 140\n')

    with pytest.raises(MappingError, match="pipedrive.stage_probabilities.5"):
        load_mapping(path)
