"""HubSpot subscription events -> native events: every mapping rule, ids, refusals."""

from __future__ import annotations

import pytest

from events.crm.common import InvalidDelivery
from events.crm.hubspot import hubspot_events
from events.crm.mapping import CrmMapping
from events.models import validate_event
from tests.support.crm import fixture_json, fixture_mapping
from tests.support.factories import POLICY

MAPPING = fixture_mapping()


def change(prop: str, value: object, object_id: int = 9001, event_id: int = 1, at: int = 0) -> dict:
    """One deal.propertyChange event shaped like HubSpot's documented payload."""
    return {
        "eventId": event_id,
        "subscriptionId": 234568,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": 1771081200000 + at,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": prop,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }


def creation(object_id: int = 9001, event_id: int = 100) -> dict:
    event = change("x", None, object_id, event_id)
    event["subscriptionType"] = "deal.creation"
    del event["propertyName"], event["propertyValue"]
    return event


def mapped(payload, mapping: CrmMapping = MAPPING) -> list[dict]:
    events = hubspot_events(payload, mapping)
    for event in events:
        validate_event(event, POLICY)  # every native event an adapter makes is valid
    return events


def shapes(events: list[dict]) -> list[tuple]:
    return [
        (e["type"], e["deal_id"], {k: v for k, v in e.items() if k not in _COMMON}) for e in events
    ]


_COMMON = {"event_id", "type", "deal_id", "occurred_at", "source"}


@pytest.mark.parametrize(
    ("prop", "value", "expected"),
    [
        ("dealstage", "closedwon", [("deal.won", "hubspot-9001", {})]),
        ("dealstage", "contractsigned", [("deal.won", "hubspot-9001", {})]),  # configured won
        ("dealstage", "closedlost", [("deal.lost", "hubspot-9001", {})]),
        ("dealstage", "qualifiedtobuy", [("deal.reopened", "hubspot-9001", {})]),
        ("dealstage", "", []),
        ("amount", "1200.50", [("deal.updated", "hubspot-9001", {"amount": 1200.5})]),
        ("amount", "800", [("deal.updated", "hubspot-9001", {"amount": 800})]),
        ("amount", "", []),  # an emptied amount cannot be expressed: the deal keeps its own
        (
            "hubspot_owner_id",
            "31337",
            [("deal.updated", "hubspot-9001", {"rep_id": "rep-ana", "team_id": "team-north"})],
        ),
        (
            "hubspot_owner_id",
            "4242",  # not listed: prefixed rep, default team
            [
                (
                    "deal.updated",
                    "hubspot-9001",
                    {"rep_id": "hubspot-owner-4242", "team_id": "team-default"},
                )
            ],
        ),
        ("customer_id", "acme", [("deal.updated", "hubspot-9001", {"customer_id": "acme"})]),
        ("lead_channel", "linkedin", [("deal.updated", "hubspot-9001", {"channel": "linkedin"})]),
        ("dealname", "Big deal", []),  # unmapped properties change nothing
    ],
)
def test_each_property_change_maps_to_its_native_event(prop, value, expected):
    assert shapes(mapped([change(prop, value)])) == expected


def test_the_event_time_is_hubspots_occurred_at():
    [event] = mapped([change("dealstage", "closedwon")])

    assert event["occurred_at"] == "2026-02-14T15:00:00Z"
    assert event["source"] == "hubspot"


def test_reopen_on_an_open_stage_can_be_switched_off():
    mapping = MAPPING.model_copy(
        update={"hubspot": MAPPING.hubspot.model_copy(update={"reopen_on_open_stage": False})}
    )
    assert mapped([change("dealstage", "qualifiedtobuy")], mapping) == []


def test_a_configured_currency_is_stamped_on_amounts():
    mapping = CrmMapping.model_validate({"hubspot": {"currency": "EUR"}})

    [event] = mapped([change("amount", "10")], mapping)

    assert (event["amount"], event["currency"]) == (10, "EUR")


def test_a_creation_with_its_initial_properties_in_the_delivery_is_a_deal_created():
    events = mapped(fixture_json("hubspot_new_deal.json"))

    assert shapes(events)[0] == (
        "deal.created",
        "hubspot-9001",
        {
            "amount": 1200.5,
            "rep_id": "rep-ana",
            "team_id": "team-north",
            "customer_id": "acme",
        },
    )
    assert events[0]["occurred_at"] == "2026-02-14T10:00:00Z"
    # the property changes still give their own events (stage: open -> reopened, harmless)
    assert [e["type"] for e in events[1:]] == [
        "deal.updated",
        "deal.updated",
        "deal.updated",
        "deal.reopened",
    ]


def test_a_creation_without_every_required_property_is_a_deal_updated_with_what_is_known():
    events = mapped([creation(), change("amount", "50", event_id=2)])

    assert shapes(events) == [
        ("deal.updated", "hubspot-9001", {"amount": 50}),
        ("deal.updated", "hubspot-9001", {"amount": 50}),
    ]
    # Same deal, instant and attributes: the same fact, so the same id (events.crm.deal_ids).
    assert events[0]["event_id"] == events[1]["event_id"]


def test_a_bare_creation_gives_nothing_to_count():
    assert mapped([creation()]) == []


def test_the_latest_value_of_a_property_in_the_delivery_wins_for_the_creation():
    payload = [
        creation(),
        change("amount", "300", event_id=3, at=2000),
        change("amount", "100", event_id=2, at=1000),
        change("hubspot_owner_id", "31337", event_id=4),
        change("customer_id", "acme", event_id=5),
    ]

    created = mapped(payload)[0]

    assert (created["type"], created["amount"]) == ("deal.created", 300)


def test_a_property_change_of_another_deal_does_not_complete_a_creation():
    other_deal = [("amount", "5"), ("hubspot_owner_id", "1"), ("customer_id", "c")]
    payload = [creation(object_id=1)] + [
        change(prop, value, object_id=2, event_id=i) for i, (prop, value) in enumerate(other_deal)
    ]

    assert "deal.created" not in [e["type"] for e in mapped(payload)]


def test_generic_object_events_of_deals_are_mapped_and_other_objects_ignored():
    events = mapped(fixture_json("hubspot_generic_objects.json"))

    assert shapes(events) == [("deal.updated", "hubspot-9002", {"amount": 800})]


def test_a_retry_of_the_same_delivery_gives_the_same_ids():
    first = fixture_json("hubspot_new_deal.json")
    retry = fixture_json("hubspot_new_deal.json")
    for event in retry:
        event["attemptNumber"] = 3

    assert mapped(first) == mapped(retry)


@pytest.mark.parametrize(
    ("field", "same"),
    [("portalId", True), ("subscriptionId", True), ("eventId", True), ("occurredAt", False)],
)
def test_the_id_names_the_fact_not_the_hubspot_event_that_reported_it(field, same):
    base = change("amount", "1")
    other = {**base, field: base[field] + 1}

    assert (mapped([base])[0]["event_id"] == mapped([other])[0]["event_id"]) is same


def test_ids_are_short_enough_for_the_contract():
    for event in mapped(fixture_json("hubspot_new_deal.json")):
        assert event["event_id"].startswith("hubspot-") and len(event["event_id"]) <= 128


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"eventId": 1}, "body: must be a JSON array"),
        ([], "body: the array holds no event"),
        ([42], "[0]: must be a JSON object"),
        ([{**change("amount", "1"), "occurredAt": "yesterday"}], "[0].occurredAt"),
        ([{**change("amount", "1"), "occurredAt": -5}], "[0].occurredAt"),
        ([{**change("amount", "1"), "occurredAt": 2**62}], "[0].occurredAt"),
        ([{k: v for k, v in change("amount", "1").items() if k != "objectId"}], "[0].objectId"),
        ([{**change("amount", "1"), "subscriptionType": 7}], "[0].subscriptionType"),
        ([change("amount", "12 EUR")], "[0].propertyValue: amount '12 EUR' is not a number"),
        ([change("amount", "NaN")], "[0].propertyValue"),
    ],
)
def test_malformed_deliveries_are_refused_with_a_reason(payload, reason):
    with pytest.raises(InvalidDelivery) as refused:
        hubspot_events(payload, MAPPING)
    assert refused.value.reason.startswith(reason)
    assert refused.value.status == 422


def test_more_than_100_events_is_too_many():
    with pytest.raises(InvalidDelivery) as refused:
        hubspot_events([change("amount", "1", event_id=i) for i in range(101)], MAPPING)
    assert (refused.value.status, refused.value.code) == (413, "too_many_events")


def test_a_negative_amount_is_mapped_and_left_to_the_contract_to_refuse():
    [event] = hubspot_events([change("amount", "-5")], MAPPING)

    assert event["amount"] == -5
    with pytest.raises(ValueError):
        validate_event(event, POLICY)
