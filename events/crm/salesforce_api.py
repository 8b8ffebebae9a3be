"""Salesforce's REST API as a deal source: Opportunities by id and modified since T (SOQL).

One query (``GET /services/data/vXX.X/query?q=SELECT ... FROM Opportunity WHERE ...``) answers
both, paged through ``nextRecordsUrl``. The fields read are the Outbound Message adapter's, plus
the ones the mapping names. ``CurrencyIsoCode`` exists only in multi-currency orgs: asked for
first, and dropped for the rest of the session when the org answers INVALID_FIELD.

A ``nextRecordsUrl`` already followed in this query is refused (``VendorRefused``), never
followed again. Everything put into SOQL is checked first (ids and field names by pattern, times
formatted here): nothing a caller passes can change the query.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from events.crm.deal_records import DealBatch, salesforce_state, vendor_deal_id
from events.crm.deal_source import VendorRefused
from events.crm.mapping import CrmMapping
from events.crm.vendor_http import VendorBadRequest, VendorHttp
from events.errors import InvalidInput

BASE_FIELDS = (
    "Id",
    "Amount",
    "StageName",
    "IsClosed",
    "IsWon",
    "CloseDate",
    "OwnerId",
    "AccountId",
    "CreatedDate",
    "LastModifiedDate",
    "LastStageChangeDate",
    "Probability",
)
CURRENCY_FIELD = "CurrencyIsoCode"
IDS_PER_QUERY = 200
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?", re.ASCII)
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", re.ASCII)


class UnsafeSoql(InvalidInput):
    """A field name or id that cannot be put into a query as it is."""


def select_fields(mapping: CrmMapping, with_currency: bool) -> list[str]:
    config = mapping.salesforce
    configured = (
        config.customer_field,
        config.channel_field,
        config.segment_field,
        config.probability_field,
        config.lost_reason_field,
    )
    fields = [*BASE_FIELDS, *(name for name in configured if name)]
    if with_currency:
        fields.append(CURRENCY_FIELD)
    for name in fields:
        if not _FIELD.fullmatch(name):
            raise UnsafeSoql(f"salesforce field {name!r} is not a field name")
    return list(dict.fromkeys(fields))


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal (UTC, no quotes)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_ids(ids: Sequence[str]) -> str:
    for record_id in ids:
        if not _RECORD_ID.fullmatch(record_id):
            raise UnsafeSoql(f"{record_id!r} is not a Salesforce record id")
    return ", ".join(f"'{record_id}'" for record_id in ids)


class SalesforceDeals:
    """The Salesforce ``DealSource``; ``zone`` places a ``CloseDate`` (midnight) in time."""

    vendor = "salesforce"

    def __init__(
        self,
        http: VendorHttp,
        mapping: CrmMapping,
        api_version: str,
        zone: ZoneInfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http, self.mapping, self.zone, self._clock = http, mapping, zone, clock
        self._query_path = f"/services/data/v{api_version}/query"
        self._with_currency = True

    async def close(self) -> None:
        await self.http.close()

    async def deal_events(self, deal_ids: Sequence[str]) -> dict[str, list[dict]]:
        return (await self.fetch(deal_ids)).events

    async def fetch(self, deal_ids: Sequence[str]) -> DealBatch:
        """Events per asked id (``006...`` or ``salesforce-006...``); unsafe ids are refused."""
        prefix = self.mapping.salesforce.deal_id_prefix
        keys = list(dict.fromkeys(deal_ids))
        batch = DealBatch()
        named, ids = {}, []
        for key in keys:
            record_id = vendor_deal_id(key, prefix)
            if _RECORD_ID.fullmatch(record_id):
                named[record_id[:15]] = key  # an 18-character id adds a checksum to the 15
                ids.append(record_id)
            else:
                batch.refused[key] = f"{record_id!r} is not a Salesforce record id"
        for start in range(0, len(ids), IDS_PER_QUERY):
            condition = f"Id IN ({soql_ids(ids[start : start + IDS_PER_QUERY])})"
            async for records in self._query(condition):
                for record in records:
                    key = named.get(str(record.get("Id", ""))[:15])
                    if key is not None:
                        batch.add(key, self._builder(record))
        return batch

    async def modified_since(self, since: datetime) -> AsyncIterator[DealBatch]:
        """Pages of Opportunities with ``LastModifiedDate >= since``, by native deal id."""
        prefix = self.mapping.salesforce.deal_id_prefix
        condition = f"LastModifiedDate >= {soql_datetime(since)}"
        async for records in self._query(condition, order="ORDER BY LastModifiedDate"):
            batch = DealBatch()
            for record in records:
                batch.add(f"{prefix}{record.get('Id', '?')}", self._builder(record))
            yield batch

    def _builder(self, record: dict):
        return lambda: salesforce_state(record, self.mapping, self.zone, self._clock())

    async def _query(self, condition: str, order: str = "") -> AsyncIterator[list[dict]]:
        answer, followed = await self._first_page(condition, order), set()
        while True:
            records = answer.get("records")
            if not isinstance(records, list):
                raise VendorRefused("salesforce API: an answer without a records list")
            yield [r for r in records if isinstance(r, dict)]
            next_url = answer.get("nextRecordsUrl")
            if answer.get("done", True) is True or not isinstance(next_url, str):
                return
            if not next_url.startswith("/services/data/"):
                raise VendorRefused("salesforce API: unexpected nextRecordsUrl")
            if next_url in followed:
                raise VendorRefused(f"salesforce API: paging repeats nextRecordsUrl {next_url!r}")
            followed.add(next_url)
            answer = await self.http.get(next_url)

    async def _first_page(self, condition: str, order: str) -> dict:
        try:
            return await self.http.get(self._query_path, {"q": self._soql(condition, order)})
        except VendorBadRequest as exc:
            if not (self._with_currency and _invalid_currency_field(exc.body)):
                raise
        self._with_currency = False  # a single-currency org: amounts are in its own currency
        return await self.http.get(self._query_path, {"q": self._soql(condition, order)})

    def _soql(self, condition: str, order: str) -> str:
        fields = ", ".join(select_fields(self.mapping, self._with_currency))
        return f"SELECT {fields} FROM Opportunity WHERE {condition} {order}".strip()


def _invalid_currency_field(body: str) -> bool:
    return "INVALID_FIELD" in body and CURRENCY_FIELD in body
