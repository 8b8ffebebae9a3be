"""A vendor deal's current state (documented API samples) to native events with state ids."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from events.crm import deal_ids
from events.crm.deal_records import (
    DealBatch,
    DealState,
    hubspot_state,
    outbound_fields,
    pipedrive_state,
    salesforce_state,
    state_events,
    vendor_deal_id,
)
from events.crm.hubspot_api import primary_company
from tests.support.crm import fixture_json, fixture_mapping

NOW = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)


def sample(vendor: str, index: int) -> dict:
    name, key = {
        "hubspot": ("hubspot_api_deals_batch_read.json", "results"),
        "pipedrive": ("pipedrive_api_v2_deals.json", "data"),
        "salesforce": ("salesforce_api_opportunity_query.json", "records"),
    }[vendor]
    return fixture_json(name)[key][index]


def state_of(vendor: str, record: dict, company: str | None = "6060") -> DealState:
    mapping = fixture_mapping()
    if vendor == "hubspot":
        return hubspot_state(record, company, mapping)
    if vendor == "pipedrive":
        return pipedrive_state(record, mapping)
    return salesforce_state(record, mapping, ZoneInfo("UTC"), NOW)


def by_type(events: list[dict]) -> dict[str, dict]:
    return {event["type"]: event for event in events}


@pytest.mark.parametrize(
    ("vendor", "index", "types", "created"),
    [
        ("hubspot", 0, ["deal.created", "deal.updated", "deal.won"], "2026-02-14T10:00:00Z"),
        ("hubspot", 1, ["deal.created", "deal.updated", "deal.reopened"], "2026-02-13T09:30:00Z"),
        ("pipedrive", 0, ["deal.created", "deal.updated", "deal.won"], "2026-02-14T10:00:00Z"),
        ("pipedrive", 1, ["deal.created", "deal.updated", "deal.lost"], "2026-02-12T08:00:00Z"),
        ("salesforce", 0, ["deal.created", "deal.updated", "deal.won"], "2026-02-10T09:00:00Z"),
        ("salesforce", 1, ["deal.created", "deal.updated", "deal.lost"], "2026-02-01T08:00:00Z"),
    ],
)
def test_a_documented_deal_becomes_its_creation_its_current_attributes_and_its_status(
    vendor, index, types, created
):
    events = state_events(state_of(vendor, sample(vendor, index)))
    assert [event["type"] for event in events] == types
    assert by_type(events)["deal.created"]["occurred_at"] == created
    assert {event["source"] for event in events} == {vendor}


@pytest.mark.parametrize(
    ("vendor", "index", "want"),
    [
        (
            "hubspot",
            0,
            {"rep_id": "rep-ana", "team_id": "team-north", "customer_id": "6060"}
            | {"amount": 1200.5, "currency": "USD", "channel": "linkedin", "probability": 1},
        ),
        (
            "pipedrive",
            1,
            {"rep_id": "rep-bo", "team_id": "team-south", "customer_id": "9"}
            | {"amount": 900, "currency": "EUR", "probability": 0.35},
        ),
        (
            "salesforce",
            1,
            {"rep_id": "rep-di", "team_id": "team-default", "customer_id": "0015g00000ACC02AAA"}
            | {"amount": 1250.5, "currency": "USD", "probability": 0},
        ),
    ],
)
def test_the_created_event_carries_the_deals_own_currency_and_mapped_attributes(
    vendor, index, want
):
    created = by_type(state_events(state_of(vendor, sample(vendor, index))))["deal.created"]
    assert {name: created.get(name) for name in want} == want


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
def test_the_same_state_read_twice_gives_the_same_event_ids(vendor):
    first = state_events(state_of(vendor, sample(vendor, 0)))
    again = state_events(state_of(vendor, copy.deepcopy(sample(vendor, 0))))
    assert [e["event_id"] for e in first] == [e["event_id"] for e in again]


@pytest.mark.parametrize(
    ("vendor", "field", "value"),
    [
        ("hubspot", "properties.amount", "1300"),
        ("pipedrive", "value", 2600),
        ("salesforce", "Amount", 5100.0),
    ],
)
def test_a_changed_amount_keeps_the_creation_id_and_gives_a_new_update_id(vendor, field, value):
    record = sample(vendor, 0)
    changed = copy.deepcopy(record)
    target, _, name = field.rpartition(".")
    (changed[target] if target else changed)[name] = value
    before = by_type(state_events(state_of(vendor, record)))
    after = by_type(state_events(state_of(vendor, changed)))
    assert after["deal.created"]["event_id"] == before["deal.created"]["event_id"]
    assert after["deal.updated"]["event_id"] != before["deal.updated"]["event_id"]
    assert after["deal.won"]["event_id"] == before["deal.won"]["event_id"]


def test_the_ids_are_those_of_the_shared_deal_id_rules():
    events = by_type(state_events(state_of("pipedrive", sample("pipedrive", 0))))
    won_at = datetime(2026, 2, 14, 15, 30, tzinfo=UTC)
    assert events["deal.created"]["event_id"] == deal_ids.created_id("pipedrive", "pipedrive-77")
    assert events["deal.won"]["event_id"] == deal_ids.status_change_id(
        "pipedrive", "pipedrive-77", "won", won_at
    )


@pytest.mark.parametrize(
    ("company", "customer_property", "want"),
    [("6060", None, "6060"), (None, "acme-1", "acme-1"), ("6060", "acme-1", "6060")],
)
def test_the_hubspot_customer_is_the_associated_company_else_the_customer_property(
    company, customer_property, want
):
    record = sample("hubspot", 0)
    record["properties"]["customer_id"] = customer_property
    created = by_type(state_events(state_of("hubspot", record, company)))["deal.created"]
    assert created["customer_id"] == want


def test_a_hubspot_deal_without_company_nor_customer_is_only_updated():
    events = state_events(state_of("hubspot", sample("hubspot", 0), company=None))
    assert [event["type"] for event in events] == ["deal.updated", "deal.won"]


def test_a_close_date_ahead_of_the_last_change_closes_the_deal_at_the_last_change():
    record = sample("hubspot", 0)
    record["properties"]["closedate"] = "2026-06-30T00:00:00Z"
    record["properties"]["hs_v2_date_entered_current_stage"] = None  # the fallback
    won = by_type(state_events(state_of("hubspot", record)))["deal.won"]
    assert won["occurred_at"] == record["properties"]["hs_lastmodifieddate"].replace(
        ".123Z", ".123000Z"
    )


def test_a_single_currency_salesforce_org_gives_amounts_without_a_currency():
    record = sample("salesforce", 0)
    del record["CurrencyIsoCode"]
    created = by_type(state_events(state_of("salesforce", record)))["deal.created"]
    assert created["amount"] == 5000 and "currency" not in created


@pytest.mark.parametrize(
    ("vendor", "field", "value", "reason"),
    [
        ("hubspot", "properties.amount", "lots", "amount 'lots' is not a number"),
        ("hubspot", "properties.hs_deal_stage_probability", "35", "out of range"),
        ("pipedrive", "value", "1e1000000", "out of range"),
        ("salesforce", "IsWon", "maybe", "IsWon: must be true or false"),
        ("salesforce", "LastModifiedDate", None, "LastModifiedDate: required"),
    ],
)
def test_a_deal_breaking_a_mapping_rule_is_refused_with_the_reason(vendor, field, value, reason):
    record = sample(vendor, 0)
    target, _, name = field.rpartition(".")
    (record[target] if target else record)[name] = value
    batch = DealBatch()
    batch.add("the-deal", lambda: state_of(vendor, record))
    assert batch.events == {}
    assert reason in batch.refused["the-deal"]


@pytest.mark.parametrize(
    ("value", "want"),
    [(True, "true"), (False, "false"), (5000.0, "5000.0"), (None, None)]
    + [("2026-02-14T15:00:00.000+0000", "2026-02-14T15:00:00.000+00:00")]
    + [("Deal T-1234", "Deal T-1234")],
)
def test_rest_values_are_read_in_the_outbound_messages_text_forms(value, want):
    assert outbound_fields({"attributes": {}, "Field": value}).get("Field") == want


@pytest.mark.parametrize(
    ("targets", "want"),
    [
        (fixture_json("hubspot_api_deal_company_associations.json")["results"][0]["to"], "6060"),
        ([{"toObjectId": 12, "associationTypes": []}, {"toObjectId": 3}], "3"),
        ([], None),
        ([{"toObjectId": None}], None),
    ],
)
def test_the_primary_company_wins_else_the_smallest_id(targets, want):
    assert primary_company(targets) == want


@pytest.mark.parametrize(
    ("given", "want"), [("hubspot-9001", "9001"), ("9001", "9001"), ("hubspot-", "")]
)
def test_a_deal_is_named_by_its_vendor_id_or_its_native_id(given, want):
    assert vendor_deal_id(given, "hubspot-") == want


def folded_status(events: list[dict]) -> str:
    """The deal's status after the contract's fold (section 2 rule 1) of ``events``."""
    from events.models import EventPolicy, validate_event
    from projections.deal import fold_deal
    from projections.normalize import deal_event_of

    policy = EventPolicy(reporting_currency="EUR")
    typed = [validate_event(event, policy) for event in events]
    return fold_deal(deal_event_of(event, seq) for seq, event in enumerate(typed)).status


def hubspot_deal(stage: str, modified: str, closedate: str, entered: str | None) -> dict:
    record = copy.deepcopy(sample("hubspot", 1))
    won = stage == "closedwon"
    record["properties"].update(
        dealstage=stage,
        closedate=closedate,
        hs_lastmodifieddate=modified,
        hs_is_closed="true" if won else "false",
        hs_is_closed_won="true" if won else "false",
        hs_deal_stage_probability="1" if won else "0.2",
        hs_v2_date_entered_current_stage=entered,
    )
    return record


@pytest.mark.parametrize(
    "open_entered", [None, "2026-02-13T09:30:00Z"], ids=["no-stage-time", "stage-time"]
)
def test_a_deal_edited_while_open_and_then_won_with_a_midnight_close_date_folds_to_won(
    open_entered,
):
    opened = hubspot_deal("appointmentscheduled", "2026-02-14T10:00:00Z", "", open_entered)
    won = hubspot_deal(
        "closedwon", "2026-02-14T10:30:00Z", "2026-02-14T00:00:00Z", "2026-02-14T10:30:00Z"
    )
    events = state_events(state_of("hubspot", opened)) + state_events(state_of("hubspot", won))
    assert folded_status(events) == "won"
    [win] = [event for event in events if event["type"] == "deal.won"]
    assert win["occurred_at"] == "2026-02-14T10:30:00Z"


def test_a_won_deal_without_a_stage_time_is_won_at_its_close_date_and_never_reopened_by_an_edit():
    opened = hubspot_deal("appointmentscheduled", "2026-02-14T10:00:00Z", "", None)
    won = hubspot_deal("closedwon", "2026-02-14T10:30:00Z", "2026-02-14T00:00:00Z", None)
    opened_events = state_events(state_of("hubspot", opened))
    won_events = state_events(state_of("hubspot", won))
    assert "deal.reopened" not in {event["type"] for event in opened_events}
    assert by_type(won_events)["deal.won"]["occurred_at"] == "2026-02-14T00:00:00Z"
    assert folded_status(opened_events + won_events) == "won"


def test_an_open_deal_is_reopened_at_the_instant_it_entered_its_stage_not_at_its_last_edit():
    record = hubspot_deal(
        "appointmentscheduled", "2026-02-14T12:00:00Z", "", "2026-02-14T09:00:00Z"
    )
    reopened = by_type(state_events(state_of("hubspot", record)))["deal.reopened"]
    assert reopened["occurred_at"] == "2026-02-14T09:00:00Z"


@pytest.mark.parametrize(
    ("status", "field", "want"),
    [("won", "won_time", "deal.won"), ("open", "stage_change_time", "deal.reopened")],
)
def test_a_pipedrive_status_is_timed_by_its_stage_change_not_by_its_last_update(
    status, field, want
):
    record = copy.deepcopy(sample("pipedrive", 0))
    record.update(status=status, update_time="2026-02-14T15:50:00Z", close_time=None)
    record.update(won_time=None, stage_change_time=None)
    record[field] = "2026-02-14T11:00:00Z"
    events = by_type(state_events(state_of("pipedrive", record)))
    assert events[want]["occurred_at"] == "2026-02-14T11:00:00Z"


def test_an_open_pipedrive_deal_without_a_stage_change_time_gets_no_reopen():
    record = copy.deepcopy(sample("pipedrive", 0))
    record.update(status="open", won_time=None, close_time=None, stage_change_time=None)
    assert "deal.reopened" not in by_type(state_events(state_of("pipedrive", record)))


def test_an_open_salesforce_opportunity_is_reopened_at_its_last_stage_change():
    record = copy.deepcopy(sample("salesforce", 0))
    record.update(IsClosed=False, IsWon=False, StageName="Prospecting")
    record.update(LastStageChangeDate="2026-02-12T08:00:00.000+0000")
    reopened = by_type(state_events(state_of("salesforce", record)))["deal.reopened"]
    assert reopened["occurred_at"] == "2026-02-12T08:00:00Z"
    del record["LastStageChangeDate"]
    assert "deal.reopened" not in by_type(state_events(state_of("salesforce", record)))
