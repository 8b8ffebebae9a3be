"""``salespulse backfill``: export columns to native events, deterministic ids, the import plan."""

from datetime import UTC, datetime

import orjson
import pytest

from events.crm.mapping import load_mapping
from events.models import EventPolicy
from events.publisher import MAX_RECORD_BYTES
from events.topics import TopicNames
from streams.tools.backfill_mapping import ExportMappingError, export_mapping
from streams.tools.backfill_plan import plan_import, report_rows
from streams.tools.backfill_rows import (
    ExportUnreadable,
    RowMapper,
    RowRefused,
    RowSkipped,
    export_time,
    read_rows,
)
from tests.support.golden import REPO
from tests.support.native import deal_created

FIXTURES = REPO / "tests" / "fixtures" / "exports"
NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
NAMES = TopicNames("t.")


@pytest.fixture
def make_mapper():
    """Factory: a row mapper for ``vendor`` with column ``overrides`` and the test CRM mapping."""

    def build(vendor: str = "hubspot", **overrides) -> RowMapper:
        crm = load_mapping(FIXTURES / "backfill_crm_mapping.toml")
        return RowMapper(vendor, export_mapping(vendor, overrides), crm)

    return build


def hubspot_row(**cells) -> dict:
    row = {
        "Record ID": "101",
        "Deal Stage": "closedwon",
        "Close Date": "2026-02-10 15:00",
        "Create Date": "2026-02-01 09:00",
        "Deal owner": "31337",
        "Amount": "1200",
        "Currency": "",
        "Associated Company IDs": "c-9",
    }
    return {**row, **cells}


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-02-14T15:20:00Z", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14T16:20:00+01:00", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14 15:20:00", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14 15:20", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14", datetime(2026, 2, 14, tzinfo=UTC)),
        ("1771082400000", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_an_export_time_is_rfc3339_naive_utc_epoch_or_a_date_at_utc_midnight(text, moment):
    assert export_time(text, "Close Date", True) == moment


def test_a_cell_that_is_no_time_refuses_the_row_naming_the_column():
    with pytest.raises(RowRefused, match="Close Date: '14/02/2026' is not a date or time"):
        export_time("14/02/2026", "Close Date", True)


def test_a_won_deal_row_gives_created_then_won_with_owner_mapped_to_rep_and_team(make_mapper):
    created, won = make_mapper().events_of(hubspot_row())

    assert {k: v for k, v in created.items() if k != "event_id"} == {
        "type": "deal.created",
        "occurred_at": "2026-02-01T09:00:00Z",
        "deal_id": "hubspot-101",
        "source": "hubspot",
        "rep_id": "rep-ana",
        "team_id": "team-north",
        "customer_id": "c-9",
        "amount": 1200,
    }
    assert (won["type"], won["occurred_at"], won["deal_id"]) == (
        "deal.won",
        "2026-02-10T15:00:00Z",
        "hubspot-101",
    )


@pytest.mark.parametrize(
    ("vendor", "row", "types"),
    [
        ("hubspot", hubspot_row(**{"Deal Stage": "qualified"}), ["deal.created"]),
        ("hubspot", hubspot_row(**{"Deal Stage": "closedlost"}), ["deal.created", "deal.lost"]),
        ("hubspot", hubspot_row(**{"Associated Company IDs": ""}), ["deal.updated", "deal.won"]),
        (
            "pipedrive",
            {"Deal - ID": "7", "Deal - Status": "lost", "Deal - Lost time": "2026-02-09 10:00:00",
             "Deal - Deal created": "2026-02-01 10:00:00", "Deal - Owner ID": "5",
             "Deal - Value": "99.5", "Deal - Currency": "EUR", "Deal - Organization ID": "3",
             "Deal - Lost reason": "price"},
            ["deal.created", "deal.lost"],
        ),
        (
            "salesforce",
            {"Id": "006A", "StageName": "Closed Won", "CloseDate": "2026-02-09",
             "CreatedDate": "2026-02-01T10:00:00.000Z", "OwnerId": "005B", "Amount": "10",
             "AccountId": "001C"},
            ["deal.created", "deal.won"],
        ),
    ],
)  # fmt: skip
def test_each_vendors_default_columns_map_its_export(make_mapper, vendor, row, types):
    events = make_mapper(vendor).events_of(row)
    assert [event["type"] for event in events] == types
    assert all(event["deal_id"].startswith(f"{vendor}-") for event in events)


def test_a_pipedrive_lost_row_carries_its_reason_and_time(make_mapper):
    row = {
        "Deal - ID": "7",
        "Deal - Status": "lost",
        "Deal - Lost time": "2026-02-09 10:00:00",
        "Deal - Lost reason": "price",
    }
    (lost,) = make_mapper("pipedrive").events_of(row)
    assert (lost["occurred_at"], lost["reason"], lost["deal_id"]) == (
        "2026-02-09T10:00:00Z",
        "price",
        "pipedrive-7",
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (hubspot_row(**{"Record ID": " "}), "Record ID: missing"),
        (hubspot_row(**{"Close Date": ""}), "Close Date: missing (when the deal was won)"),
        (hubspot_row(**{"Create Date": ""}), "Create Date: missing (when the deal was created)"),
        (hubspot_row(Amount="12,5"), "Amount: amount '12,5' is not a number"),
    ],
)
def test_a_row_that_cannot_be_mapped_is_refused_with_the_column_and_rule(make_mapper, row, message):
    with pytest.raises(RowRefused) as refused:
        make_mapper().events_of(row)
    assert str(refused.value).startswith(message)


def test_an_activity_row_is_a_call_and_other_kinds_are_skipped(make_mapper):
    mapper = make_mapper(kind="Type", deal_ref="Deal")
    call = {
        "Record ID": "9",
        "Type": "call",
        "Create Date": "2026-02-05 11:00",
        "Deal owner": "31337",
        "Deal": "101",
    }

    (event,) = mapper.events_of(call)

    assert {k: event[k] for k in ("type", "rep_id", "team_id", "deal_id")} == {
        "type": "call.logged",
        "rep_id": "rep-ana",
        "team_id": "team-north",
        "deal_id": "hubspot-101",
    }
    with pytest.raises(RowSkipped, match="'meeting' is neither a deal nor a call"):
        mapper.events_of({**call, "Type": "meeting"})


def test_the_same_row_always_gives_the_same_event_ids_and_a_changed_deal_a_new_created_id(
    make_mapper,
):
    mapper = make_mapper()
    first = [e["event_id"] for e in mapper.events_of(hubspot_row())]
    again = [e["event_id"] for e in make_mapper().events_of(hubspot_row())]
    changed = [e["event_id"] for e in mapper.events_of(hubspot_row(Amount="1300"))]

    assert first == again
    assert changed[0] != first[0]
    assert changed[1] == first[1]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"recordid": "x"}, "recordid: Extra inputs"), ({"won_stages": "x"}, "won_stages")],
)
def test_a_mapping_with_an_unknown_key_or_bad_value_is_refused(overrides, message):
    with pytest.raises(ExportMappingError, match=message):
        export_mapping("hubspot", overrides)


def test_the_plan_validates_every_row_refusing_whole_rows_and_publishing_repeats_once(
    make_mapper,
):
    text = (FIXTURES / "hubspot_deals.csv").read_text()
    rows = list(read_rows(text, ".csv"))
    rows.append(rows[0])  # the same deal exported twice

    plan = plan_import(rows, make_mapper().events_of, POLICY, NAMES)

    assert plan.by_type == {"deal.created": 3, "deal.won": 2, "deal.lost": 1}
    assert plan.repeated == 2
    assert dict(plan.refused) == {
        "currency: must be the reporting currency EUR (no other currency has a rate), not 'USD'": [
            4
        ]
    }
    assert plan.deal_ids == {"hubspot-101", "hubspot-102", "hubspot-104"}
    assert {o.topic for o in plan.outgoing} == {NAMES.deal_events}
    assert report_rows(plan)[-1] == ["refused", next(iter(plan.refused)), 1, "4"]


def test_a_native_jsonl_line_that_is_not_an_object_is_refused_by_line_number():
    text = '{"event_id": "e"}\n\n[1]\n{bad\n'
    assert [(n, row) for n, row in read_rows(text, ".jsonl")][1:] == [
        (3, "line: not a JSON object"),
        (4, "line: not valid JSON (unexpected character, expected a string key)"),
    ]


def test_a_csv_field_over_the_csv_limit_makes_the_export_unreadable_naming_the_line():
    text = "Record ID,Deal Stage\n101,closedwon\n102," + "x" * 131_073 + "\n103,closedlost\n"

    with pytest.raises(ExportUnreadable) as refused:
        list(read_rows(text, ".csv"))

    assert str(refused.value) == (
        "line 3: a field is longer than 131,072 characters, the CSV limit"
    )


def test_a_row_whose_event_is_over_kafkas_message_limit_is_refused_and_the_others_import():
    native = [
        {**deal_created("fits", "d-1")},
        {**deal_created("huge", "d-2"), "note": "x" * MAX_RECORD_BYTES},
        {**deal_created("deep", "d-3"), "note": [[[[]]]]},
    ]
    rows = [(number, event) for number, event in enumerate(native, start=1)]

    plan = plan_import(rows, lambda row: [row], POLICY, NAMES)

    assert [orjson.loads(o.value)["event_id"] for o in plan.outgoing] == ["fits", "deep"]
    [(reason, numbers)] = plan.refused.items()
    assert numbers == [2]
    assert reason.endswith(
        f"over the limit of {MAX_RECORD_BYTES:,} bytes per message (a retry cannot succeed)"
    )


def test_a_native_row_too_deep_to_store_as_json_is_refused_not_a_crash():
    event = deal_created("deep", "d-3")
    for _ in range(300):
        event["note"] = [event.get("note")]

    plan = plan_import([(1, event)], lambda row: [row], POLICY, NAMES)

    assert plan.outgoing == []
    assert dict(plan.refused) == {"event: cannot be stored as JSON (Recursion limit reached)": [1]}
