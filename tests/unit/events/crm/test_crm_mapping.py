"""The CRM mapping file and the helpers every adapter shares (times, amounts, ids)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from events.crm.common import (
    InvalidDelivery,
    created_or_updated,
    deal_event,
    native_event_id,
    parse_amount,
    rfc3339,
    text_id,
    vendor_time,
)
from events.crm.mapping import CrmMapping, MappingError, load_mapping
from tests.support.crm import MAPPING_FILE

EXAMPLE = MAPPING_FILE.parents[2].parent / "docs" / "crm-mapping.example.toml"


def test_the_documented_example_file_loads_and_states_the_defaults():
    example = load_mapping(EXAMPLE)
    defaults = CrmMapping()

    assert example.hubspot.owners["31337"].rep_id == "rep-ana"
    for vendor in ("hubspot", "pipedrive", "salesforce"):
        loaded = getattr(example, vendor).model_dump(exclude={"owners"})
        assert loaded == getattr(defaults, vendor).model_dump(exclude={"owners"}), vendor


def test_no_file_means_the_defaults():
    mapping = load_mapping(None)

    assert mapping.hubspot.won_stages == ("closedwon",)
    assert mapping.hubspot.lost_stages == ("closedlost",)
    assert mapping.default_team is None


def test_json_files_are_read_too(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(
        json.dumps({"default_team": "t", "pipedrive": {"owners": {"7": {"rep_id": "r"}}}})
    )

    mapping = load_mapping(path)

    assert mapping.owner_attrs(mapping.pipedrive, "7") == {"rep_id": "r", "team_id": "t"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("m.toml", "[hubspot]\nwon_stage = ['x']\n", "hubspot.won_stage"),
        ("m.toml", "default_team = \n", "is not valid TOML"),
        ("m.json", "{", "is not valid JSON"),
        ("m.yaml", "a: 1", "must end in .toml or .json"),
        ("m.toml", "[hubspot.owners]\n'1' = { team_id = 't' }\n", "hubspot.owners.1.rep_id"),
        ("m.toml", "[hubspot]\ncurrency = 'euro'\n", "hubspot.currency"),
    ],
)
def test_a_bad_file_is_refused_with_a_message_naming_the_key(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(MappingError, match=message):
        load_mapping(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("config", "owner", "expected"),
    [
        ({}, None, {}),
        ({}, "9", {"rep_id": "hubspot-owner-9", "team_id": None}),
        ({"default_team": "t0"}, "9", {"rep_id": "hubspot-owner-9", "team_id": "t0"}),
        (
            {"default_team": "t0", "hubspot": {"default_team": "th"}},
            "9",
            {"rep_id": "hubspot-owner-9", "team_id": "th"},
        ),
        (
            {"default_team": "t0", "hubspot": {"owners": {"9": {"rep_id": "ana"}}}},
            "9",
            {"rep_id": "ana", "team_id": "t0"},
        ),
        (
            {"hubspot": {"owners": {"9": {"rep_id": "ana", "team_id": "north"}}}},
            "9",
            {"rep_id": "ana", "team_id": "north"},
        ),
    ],
)
def test_owner_resolution(config, owner, expected):
    mapping = CrmMapping.model_validate(config)

    assert mapping.owner_attrs(mapping.hubspot, owner) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-14T15:20:00Z", "2026-02-14T15:20:00Z"),
        ("2026-02-14T16:20:00+01:00", "2026-02-14T15:20:00Z"),
        ("2026-02-14T15:20:00.250Z", "2026-02-14T15:20:00.250000Z"),
        ("2026-02-14 15:20:00", "2026-02-14T15:20:00Z"),  # Pipedrive v1: naive UTC
        (1771082400, "2026-02-14T15:20:00Z"),  # epoch seconds
        (1771082400000, "2026-02-14T15:20:00Z"),  # epoch milliseconds
        ("1771082400", "2026-02-14T15:20:00Z"),
        (1771082400.5, "2026-02-14T15:20:00.500000Z"),
        ("2026-02-14", None),
        ("\u00b2", None),  # a digit to str.isdigit, not to int()
        ("9" * 5000, None),
        ("soon", None),
        ("", None),
        (None, None),
        (True, None),
        (-1, None),
        (float("nan"), None),
    ],
)
def test_vendor_times(value, expected):
    moment = vendor_time(value)
    assert (rfc3339(moment) if moment else None) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1200", 1200),
        ("1200.50", 1200.5),
        ("1200.0", 1200),
        (" 7 ", 7),
        (99, 99),
        (2.5, 2.5),
        ("", None),
        (None, None),
    ],
)
def test_amounts(value, expected):
    amount = parse_amount(value, "x")
    assert amount == expected and type(amount) is type(expected)


@pytest.mark.parametrize("value", ["12 EUR", "Infinity", "NaN", True, [1], "1,200"])
def test_non_amounts_are_refused(value):
    with pytest.raises(InvalidDelivery):
        parse_amount(value, "x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, "7"),
        (7.0, "7"),
        (" a ", "a"),
        ({"value": 3}, "3"),
        ({"id": 4}, "4"),
        ("", None),
        (None, None),
        (True, None),
        (7.5, None),
    ],
)
def test_text_ids(value, expected):
    assert text_id(value) == expected


def test_event_ids_are_deterministic_and_distinguish_every_identity_part():
    assert native_event_id("v", 1, "a") == native_event_id("v", 1, "a")
    assert (
        len(
            {
                native_event_id("v", 1, "a"),
                native_event_id("v", "1", "a"),
                native_event_id("w", 1, "a"),
                native_event_id("v", 1, "b"),
            }
        )
        == 4
    )


def test_deal_events_leave_unknown_attributes_out_rather_than_null():
    event = deal_event(
        "deal.updated", "id", "d", datetime(2026, 2, 14, tzinfo=UTC), "x", {"rep_id": None}
    )

    assert "rep_id" not in event


@pytest.mark.parametrize(
    ("attrs", "kind"),
    [
        ({"rep_id": "r", "team_id": "t", "customer_id": "c", "amount": 0}, "deal.created"),
        ({"rep_id": "r", "team_id": "t", "customer_id": "c"}, "deal.updated"),
        ({"rep_id": "r", "team_id": None, "customer_id": "c", "amount": 1}, "deal.updated"),
    ],
)
def test_created_only_with_every_required_attribute(attrs, kind):
    assert created_or_updated(attrs) == kind
