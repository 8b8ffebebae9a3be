"""Pipedrive webhooks v1 and v2 -> native events: every mapping rule, ids, refusals."""

from __future__ import annotations

import pytest

from events.crm.common import InvalidDelivery
from events.crm.mapping import CrmMapping
from events.crm.pipedrive import pipedrive_events
from events.models import validate_event
from tests.support.crm import fixture_json, fixture_mapping
from tests.support.factories import POLICY

MAPPING = fixture_mapping()
OWNER = {"rep_id": "rep-bo", "team_id": "team-south"}


def mapped(payload, mapping: CrmMapping = MAPPING) -> list[dict]:
    events = pipedrive_events(payload, mapping)
    for event in events:
        validate_event(event, POLICY)
    return events


def summary(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["occurred_at"]) for e in events]


def v2_change(previous: dict | None, **data) -> dict:
    payload = fixture_json("pipedrive_v2_won.json")
    payload["data"].update(data)
    payload["previous"] = previous
    return payload


def test_v2_create_is_a_deal_created_at_add_time_with_every_attribute():
    [event] = mapped(fixture_json("pipedrive_v2_create.json"))

    assert event["type"] == "deal.created"
    assert event["deal_id"] == "pipedrive-77"
    assert event["occurred_at"] == "2026-02-14T10:00:00Z"
    assert {k: event[k] for k in ("rep_id", "team_id", "customer_id", "amount", "currency")} == {
        **OWNER,
        "customer_id": "2",
        "amount": 2500,
        "currency": "EUR",
    }
    assert event["source"] == "pipedrive"


def test_v2_won_transition_is_an_update_and_a_win_at_won_time():
    events = mapped(fixture_json("pipedrive_v2_won.json"))

    assert summary(events) == [
        ("deal.updated", "2026-02-14T15:00:00Z"),
        ("deal.won", "2026-02-14T15:00:00Z"),
    ]
    assert events[0]["amount"] == 2500 and events[0]["rep_id"] == "rep-bo"


def test_v1_lost_transition_is_a_loss_at_lost_time_with_its_reason():
    events = mapped(fixture_json("pipedrive_v1_updated_lost.json"))

    assert summary(events) == [
        ("deal.updated", "2026-02-14T15:00:00.123456Z"),
        ("deal.lost", "2026-02-14T15:00:00Z"),
    ]
    assert events[1]["reason"] == "Budget cut"
    assert events[0]["deal_id"] == "pipedrive-78" and events[0]["customer_id"] == "3"


@pytest.mark.parametrize(
    ("previous", "status", "extra_types"),
    [
        ({"status": "open"}, "won", ["deal.won"]),
        ({"status": "open"}, "lost", ["deal.lost"]),
        ({"status": "won"}, "lost", ["deal.lost"]),
        ({"status": "lost"}, "won", ["deal.won"]),
        ({"status": "won"}, "open", ["deal.reopened"]),
        ({"status": "lost"}, "open", ["deal.reopened"]),
        ({"status": "won"}, "won", []),
        ({"stage_id": 4}, "won", []),  # v2: status not among the changed fields
        (None, "won", []),
        ({"status": "open"}, "deleted", []),
    ],
)
def test_status_transitions(previous, status, extra_types):
    events = mapped(v2_change(previous, status=status, lost_time="2026-02-14T15:00:00Z"))

    assert [e["type"] for e in events] == ["deal.updated", *extra_types]


def test_a_close_time_missing_from_the_deal_falls_back_to_the_webhook_time():
    events = mapped(v2_change({"status": "open"}, status="won", won_time=None))

    assert events[1]["occurred_at"] == "2026-02-14T15:00:00Z"


def test_epoch_webhook_timestamps_are_accepted():
    payload = v2_change({"status": "won"}, status="open")
    payload["meta"]["timestamp"] = 1771086600

    assert {e["occurred_at"] for e in mapped(payload)} == {"2026-02-14T16:30:00Z"}


def test_a_create_without_an_organisation_or_person_is_a_deal_updated():
    payload = fixture_json("pipedrive_v2_create.json")
    payload["data"].update(org_id=None, person_id=None)

    [event] = mapped(payload)

    assert event["type"] == "deal.updated" and "customer_id" not in event


def test_the_person_is_the_customer_when_there_is_no_organisation():
    payload = fixture_json("pipedrive_v2_create.json")
    payload["data"]["org_id"] = None

    assert mapped(payload)[0]["customer_id"] == "3"


def test_a_deal_created_already_won_is_created_and_won():
    payload = fixture_json("pipedrive_v2_create.json")
    payload["data"].update(status="won", won_time="2026-02-14T10:05:00Z")

    assert summary(mapped(payload)) == [
        ("deal.created", "2026-02-14T10:00:00Z"),
        ("deal.won", "2026-02-14T10:05:00Z"),
    ]


def test_an_unlisted_owner_gets_a_prefixed_rep_and_the_default_team():
    payload = fixture_json("pipedrive_v2_create.json")
    payload["data"]["owner_id"] = 5

    event = mapped(payload)[0]

    assert (event["rep_id"], event["team_id"]) == ("pipedrive-user-5", "team-default")


def test_a_channel_field_may_be_a_custom_field_path():
    mapping = CrmMapping.model_validate({"pipedrive": {"channel_field": "custom_fields.src"}})
    payload = fixture_json("pipedrive_v2_create.json")
    payload["data"]["custom_fields"] = {"src": "linkedin"}

    assert mapped(payload, mapping)[0]["channel"] == "linkedin"


def test_v1_added_deal_is_a_creation():
    payload = fixture_json("pipedrive_v1_updated_lost.json")
    payload.update(event="added.deal", previous=None)
    payload["meta"]["action"] = "added"
    payload["current"].update(status="open", lost_time=None, lost_reason=None)

    [event] = mapped(payload)

    assert (event["type"], event["occurred_at"]) == ("deal.created", "2026-02-10T09:00:00Z")


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["meta"].update(action="delete"),
        lambda p: p["meta"].update(entity="person"),
        lambda p: p["meta"].update(entity="lead"),
    ],
)
def test_deletions_and_other_objects_are_ignored(change):
    payload = fixture_json("pipedrive_v2_won.json")
    change(payload)

    assert mapped(payload) == []


def test_retries_give_the_same_ids():
    first, retry = fixture_json("pipedrive_v2_won.json"), fixture_json("pipedrive_v2_won.json")
    retry["meta"]["attempt"] = 3
    v1, v1_retry = (fixture_json("pipedrive_v1_updated_lost.json") for _ in range(2))
    v1_retry["retry"] = 2

    assert mapped(first) == mapped(retry)
    assert mapped(v1) == mapped(v1_retry)


def test_another_webhook_reporting_the_same_state_gives_the_same_ids():
    other = fixture_json("pipedrive_v2_won.json")
    other["meta"]["id"] = "00000000-0000-0000-0000-000000000000"

    ids = [e["event_id"] for e in mapped(fixture_json("pipedrive_v2_won.json"))]

    assert [e["event_id"] for e in mapped(other)] == ids


def test_a_later_change_of_the_same_deal_gets_other_ids():
    other = fixture_json("pipedrive_v2_won.json")
    other["meta"]["timestamp"] = "2026-02-14T16:00:00Z"
    other["data"]["won_time"] = "2026-02-14T16:00:00Z"

    ids = {e["event_id"] for e in mapped(fixture_json("pipedrive_v2_won.json"))}

    assert ids.isdisjoint(e["event_id"] for e in mapped(other))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: p.pop("meta"), "body: must be a Pipedrive webhook object"),
        (lambda p: p["meta"].pop("id"), "meta.id: required"),
        (lambda p: p["meta"].update(timestamp="later"), "meta.timestamp: required"),
        (lambda p: p["meta"].pop("action"), "meta.action and meta.entity"),
        (lambda p: p.update(data=[1]), "data: must be an object or null"),
        (lambda p: p.update(data=None), "current deal: required"),
        (lambda p: p["data"].pop("id"), "current deal.id: required"),
        (lambda p: p["data"].update(value="lots"), "deal.value: amount 'lots' is not a number"),
    ],
)
def test_malformed_webhooks_are_refused_with_a_reason(change, reason):
    payload = fixture_json("pipedrive_v2_won.json")
    change(payload)

    with pytest.raises(InvalidDelivery) as refused:
        pipedrive_events(payload, MAPPING)
    assert refused.value.reason.startswith(reason)


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidDelivery):
        pipedrive_events([1, 2], MAPPING)
