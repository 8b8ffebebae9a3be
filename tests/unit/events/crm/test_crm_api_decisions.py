"""Pure decisions of the CRM API clients and of ``crm sync``: waits, queries, what is published."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.crm.deal_records import DealBatch
from events.crm.deal_source import VendorUnavailable
from events.crm.hubspot_api import _restart_from, deal_properties, search_body
from events.crm.salesforce_api import UnsafeSoql, select_fields, soql_datetime, soql_ids
from events.crm.vendor_http import RetryPolicy, backoff_s, next_delay_s, retry_after_s
from events.models import EventPolicy
from events.topics import TopicNames
from streams.tools.cli_crm import SyncReport, parse_duration, parse_since, plan_page
from tests.support.crm import fixture_mapping

NOW = datetime(2026, 2, 14, 16, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_retries=3, base_delay_s=1.0, max_delay_s=8.0, budget_s=20.0)


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Sat, 14 Feb 2026 16:00:30 GMT", 30.0),
        ("Sat, 14 Feb 2026 15:00:00 GMT", 0.0),
        ("99999999999", 3600.0),
        ("soon", None),
        ("-3", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_as_an_http_date(header, want):
    assert retry_after_s(header, NOW) == want


@pytest.mark.parametrize(("retry", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)])
def test_backoff_doubles_up_to_its_ceiling_and_is_jittered_below_it(retry, ceiling):
    assert backoff_s(retry, POLICY, draw=lambda: 1.0) == ceiling
    assert backoff_s(retry, POLICY, draw=lambda: 0.25) == ceiling / 4


@pytest.mark.parametrize(
    ("retry", "waited", "wanted", "want"),
    [
        (1, 0.0, None, 1.0),
        (1, 0.0, 5.0, 5.0),
        (2, 10.0, 10.0, 10.0),
        (2, 10.0, 11.0, None),
        (4, 0.0, None, None),
        (3, 19.0, None, None),
    ],
)
def test_a_retry_honours_retry_after_within_the_count_and_the_waiting_budget(
    retry, waited, wanted, want
):
    assert next_delay_s(retry, waited, wanted, POLICY, draw=lambda: 1.0) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [("90s", timedelta(seconds=90)), ("15m", timedelta(minutes=15)), ("7d", timedelta(days=7))]
    + [("0m", None), ("15 minutes", None), ("1w", None), ("", None)],
)
def test_a_duration_is_a_number_and_a_unit(text, want):
    assert parse_duration(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("2026-02-01T00:00:00Z", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01T01:00:00+01:00", datetime(2026, 2, 1, tzinfo=UTC)),
        ("2026-02-01", None),
        ("yesterday", None),
    ],
)
def test_since_is_an_instant_or_a_duration_back_from_now(text, want):
    assert parse_since(text, NOW) == want


def deal(deal_id: str, currency: str = "EUR", event_id: str | None = None) -> list[dict]:
    return [
        {
            "event_id": event_id or f"e-{deal_id}",
            "type": "deal.created",
            "occurred_at": "2026-02-14T10:00:00Z",
            "deal_id": deal_id,
            "rep_id": "r",
            "team_id": "t",
            "customer_id": "c",
            "amount": 10,
            "currency": currency,
        }
    ]


def plan(batch: DealBatch, seen: set | None = None) -> tuple[list, SyncReport]:
    report = SyncReport()
    policy = EventPolicy(reporting_currency="EUR", clock=lambda: NOW)
    outgoing = plan_page(batch, policy, TopicNames("t."), set() if seen is None else seen, report)
    return outgoing, report


def test_a_deal_with_an_unrated_currency_is_refused_and_the_others_are_published():
    batch = DealBatch(events={"d-1": deal("d-1"), "d-2": deal("d-2", "USD")})
    outgoing, report = plan(batch)
    assert [record.key for record in outgoing] == ["d-1"]
    assert list(report.refused) == ["d-2"]
    assert "USD" in report.refused["d-2"][0]


def test_a_deal_the_mapping_refused_is_reported_with_its_reason():
    outgoing, report = plan(DealBatch(refused={"d-3": "deal.value: amount 'x' is not a number"}))
    assert outgoing == []
    assert report.refused == {"d-3": ["deal.value: amount 'x' is not a number"]}


def test_an_event_already_published_in_this_run_is_not_published_again():
    outgoing, report = plan(DealBatch(events={"d-1": deal("d-1")}), seen={"e-d-1"})
    assert outgoing == [] and report.repeated == 1


@pytest.mark.parametrize("bad", ["0065g00000OPP01AAA') OR (Name != '", "abc", "0065g00000OPP01AA'"])
def test_a_salesforce_id_that_could_change_the_query_is_refused(bad):
    with pytest.raises(UnsafeSoql):
        soql_ids(["0065g00000OPP01AAA", bad])


def test_salesforce_field_names_from_the_mapping_are_checked():
    mapping = fixture_mapping()
    unsafe = mapping.model_copy(
        update={"salesforce": mapping.salesforce.model_copy(update={"channel_field": "A, B"})}
    )
    with pytest.raises(UnsafeSoql):
        select_fields(unsafe, with_currency=True)


@pytest.mark.parametrize("with_currency", [True, False])
def test_the_salesforce_query_asks_for_the_currency_only_in_multi_currency_orgs(with_currency):
    fields = select_fields(fixture_mapping(), with_currency)
    assert ("CurrencyIsoCode" in fields) is with_currency
    assert "Loss_Reason__c" in fields


def test_a_soql_datetime_is_utc_without_quotes():
    assert soql_datetime(datetime(2026, 2, 14, 17, 0, tzinfo=UTC) + timedelta(0)) == (
        "2026-02-14T17:00:00Z"
    )


def test_the_hubspot_search_asks_for_modified_deals_in_order_with_every_mapped_property():
    body = search_body(1771063200000, deal_properties(fixture_mapping()), after="100")
    assert body["filterGroups"][0]["filters"] == [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1771063200000"}
    ]
    assert body["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert {"deal_currency_code", "lead_channel", "customer_id"} <= set(body["properties"])
    assert body["after"] == "100"


def test_a_capped_hubspot_search_restarts_from_the_last_modification_it_saw():
    page = [{"properties": {"hs_lastmodifieddate": "2026-02-14T10:00:00Z"}}]
    assert _restart_from(page, 0) == 1771063200000


def test_a_hubspot_search_that_cannot_move_forward_in_time_says_so():
    page = [{"properties": {"hs_lastmodifieddate": "2026-02-14T10:00:00Z"}}]
    with pytest.raises(VendorUnavailable, match="10,000"):
        _restart_from(page, 1771063200000)


async def test_a_periodic_sync_keeps_the_window_of_a_failed_run_for_the_next_run():
    from streams.tools.cli_crm import OVERLAP, repeat
    from streams.tools.output import Exit

    start = datetime(2026, 2, 14, 8, 0, tzinfo=UTC)
    clock = iter(start + timedelta(hours=n) for n in range(1, 10))
    codes = iter([Exit.OK, Exit.UNAVAILABLE, Exit.USAGE, Exit.FINDINGS, Exit.OK])
    windows: list[datetime] = []

    async def run_pass(since: datetime) -> Exit:
        windows.append(since)
        return next(codes)

    async def pause(_: float) -> None:
        if len(windows) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await repeat(run_pass, start, timedelta(hours=1), pause, lambda: next(clock))

    first, second, fourth = (start + timedelta(hours=n) - OVERLAP for n in (1, 2, 4))
    assert windows == [start, first, first, first, fourth]
    assert second not in windows
