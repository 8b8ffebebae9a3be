"""``salespulse backfill``: probability and segment columns per CRM export, like live webhooks."""

from __future__ import annotations

import orjson
import pytest

from events.crm.mapping import load_mapping
from events.models import validate_event
from events.topics import TopicNames
from streams.tools.backfill_mapping import ExportMappingError, export_mapping
from streams.tools.backfill_plan import plan_import
from streams.tools.backfill_rows import RowMapper, RowRefused
from tests.support.factories import POLICY
from tests.support.golden import REPO

CRM_MAPPING = REPO / "tests" / "fixtures" / "exports" / "backfill_crm_mapping.toml"

ROWS = {
    "hubspot": {
        "Record ID": "101",
        "Deal Stage": "qualified",
        "Create Date": "2026-02-01 09:00",
        "Deal owner": "31337",
        "Amount": "1200",
        "Associated Company IDs": "c-9",
    },
    "pipedrive": {
        "Deal - ID": "7",
        "Deal - Status": "open",
        "Deal - Deal created": "2026-02-01 10:00:00",
        "Deal - Owner ID": "5",
        "Deal - Value": "99.5",
        "Deal - Organization ID": "3",
    },
    "salesforce": {
        "Id": "006A",
        "StageName": "Prospecting",
        "CreatedDate": "2026-02-01T10:00:00.000Z",
        "OwnerId": "005B",
        "Amount": "10",
        "AccountId": "001C",
    },
}
PROBABILITY_COLUMN = {
    "hubspot": "Deal probability",
    "pipedrive": "Deal - Probability",
    "salesforce": "Probability",
}


@pytest.fixture
def make_mapper():
    """Factory: a row mapper for ``vendor`` with column ``overrides`` and the test CRM mapping."""

    def build(vendor: str, crm_overrides: dict | None = None, **overrides) -> RowMapper:
        crm = load_mapping(CRM_MAPPING)
        if crm_overrides:
            table = getattr(crm, vendor).model_copy(update=crm_overrides)
            crm = crm.model_copy(update={vendor: table})
        return RowMapper(vendor, export_mapping(vendor, overrides), crm)

    return build


def created(mapper: RowMapper, vendor: str, **cells) -> dict:
    [event] = mapper.events_of({**ROWS[vendor], **cells})
    validate_event(event, POLICY)
    assert event["type"] == "deal.created"
    return event


@pytest.mark.parametrize(
    ("vendor", "cell", "probability"),
    [
        ("hubspot", "0.4", 0.4),
        ("hubspot", "40%", 0.4),
        ("hubspot", "1", 1),
        ("pipedrive", "40", 0.4),
        ("pipedrive", "12.5 %", 0.125),
        ("salesforce", "10.0", 0.1),
        ("salesforce", "100", 1),
    ],
)
def test_each_exports_default_probability_column_is_read_on_its_crms_scale(
    make_mapper, vendor, cell, probability
):
    event = created(make_mapper(vendor), vendor, **{PROBABILITY_COLUMN[vendor]: cell})

    assert event["probability"] == probability


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
@pytest.mark.parametrize("cell", ["", "   ", None])
def test_an_empty_or_missing_probability_cell_is_absent_not_zero(make_mapper, vendor, cell):
    cells = {} if cell is None else {PROBABILITY_COLUMN[vendor]: cell}

    assert "probability" not in created(make_mapper(vendor), vendor, **cells)


@pytest.mark.parametrize(
    ("vendor", "cell", "message"),
    [
        ("hubspot", "40", "Deal probability: probability '40' is out of range: 0 to 1"),
        ("pipedrive", "150", "Deal - Probability: probability '150' is out of range: 0 to 100"),
        ("pipedrive", "150%", "Deal - Probability: probability '150' is out of range: 0 to 100"),
        ("salesforce", "abc", "Probability: probability 'abc' is not a number"),
    ],
)
def test_a_bad_probability_refuses_its_row_naming_the_column(make_mapper, vendor, cell, message):
    with pytest.raises(RowRefused) as refused:
        make_mapper(vendor).events_of({**ROWS[vendor], PROBABILITY_COLUMN[vendor]: cell})

    assert str(refused.value) == message


def test_the_probability_column_and_its_scale_are_mapping_keys(make_mapper):
    mapper = make_mapper("salesforce", probability="Probability (%)", probability_scale="fraction")

    assert created(mapper, "salesforce", **{"Probability (%)": "0.25"})["probability"] == 0.25
    with pytest.raises(ExportMappingError, match="probability_scale"):
        export_mapping("salesforce", {"probability_scale": "per-mille"})


@pytest.mark.parametrize("vendor", ["hubspot", "pipedrive", "salesforce"])
def test_the_segment_column_is_read_when_mapped_and_translated_by_segment_values(
    make_mapper, vendor
):
    unmapped = created(make_mapper(vendor), vendor, **{"Customer type": "SMB"})
    mapped = created(
        make_mapper(vendor, {"segment_values": {"SMB": "smb"}}, segment="Customer type"),
        vendor,
        **{"Customer type": "SMB"},
    )

    assert "segment" not in unmapped
    assert mapped["segment"] == "smb"


def test_a_changed_probability_gives_a_new_created_event_id(make_mapper):
    mapper = make_mapper("pipedrive")

    first = created(mapper, "pipedrive", **{"Deal - Probability": "20"})
    later = created(mapper, "pipedrive", **{"Deal - Probability": "60"})

    assert first["event_id"] != later["event_id"]
    assert (first["probability"], later["probability"]) == (0.2, 0.6)


def test_the_plan_imports_probability_and_segment_and_refuses_a_segment_the_contract_refuses(
    make_mapper,
):
    mapper = make_mapper("pipedrive", segment="Deal - Customer type")
    rows = [
        (2, {**ROWS["pipedrive"], "Deal - Probability": "35", "Deal - Customer type": "smb"}),
        (3, {**ROWS["pipedrive"], "Deal - ID": "8", "Deal - Customer type": "x" * 65}),
    ]

    plan = plan_import(rows, mapper.events_of, POLICY, TopicNames("t."))

    [outgoing] = plan.outgoing
    published = orjson.loads(outgoing.value)
    assert (published["probability"], published["segment"]) == (0.35, "smb")
    assert plan.refused == {"segment: must be a string of 1 to 64 characters": [3]}
