"""HubSpot's CRM API as a deal source: deals by id (enrichment) and deals modified since T (sync).

A HubSpot webhook names a deal and at most one property, so the deal's whole state comes from
here: its properties through the CRM v3 objects API (batch read, 100 ids a call) and its company,
the customer, through the v4 associations API (batch read). Nothing is cached across calls: a
delivery is completed with what the API answers for it, never with an answer fetched for an
earlier delivery (which would predate the changes this one reports). One call asks each deal
once, however many of the delivery's items name it.

An answer not shaped as documented is ``VendorRefused`` (the caller falls back to the webhook's
own content, or ``crm sync`` stops with the reason); an association of an unexpected shape leaves
that deal's company unknown, never an exception.

``crm sync`` uses the CRM search API, which has limits of its own: about five requests a second
per account (requests are paced here) and at most 10,000 results per query, whatever the paging.
Results are sorted by ``hs_lastmodifieddate`` so that a query reaching that cap restarts from
the last instant it saw: the split by time the search API needs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

from events.crm.common import text_id, vendor_time
from events.crm.deal_records import DealBatch, hubspot_state, vendor_deal_id
from events.crm.deal_source import VendorRefused, VendorUnavailable
from events.crm.mapping import CrmMapping
from events.crm.vendor_http import VendorHttp

BATCH_READ = "/crm/v3/objects/deals/batch/read"
ASSOCIATIONS = "/crm/v4/associations/deals/companies/batch/read"
SEARCH = "/crm/v3/objects/deals/search"
BATCH_SIZE = 100
SEARCH_CAP = 10_000
"""The search API returns at most this many results per query (paging stops there)."""
SEARCH_INTERVAL_S = 0.25
"""Pause between two search requests: under the search API's few requests per second."""
PRIMARY_COMPANY_TYPE = 5
"""HUBSPOT_DEFINED association type "Primary" from deal to company."""
FIXED_PROPERTIES = (
    "dealstage",
    "pipeline",
    "amount",
    "hubspot_owner_id",
    "createdate",
    "closedate",
    "deal_currency_code",
    "hs_deal_stage_probability",
    "hs_is_closed_won",
    "hs_is_closed",
    "hs_lastmodifieddate",
    "hs_v2_date_entered_current_stage",
)


def deal_properties(mapping: CrmMapping) -> list[str]:
    """Every property the mapping reads: the fixed ones and the configured ones."""
    config = mapping.hubspot
    configured = (
        config.stage_property,
        config.amount_property,
        config.owner_property,
        config.customer_property,
        config.channel_property,
        config.probability_property,
        config.segment_property,
    )
    return list(dict.fromkeys([*FIXED_PROPERTIES, *(name for name in configured if name)]))


def primary_company(associations: object) -> str | None:
    """The deal's primary company, else its smallest company id (a stable choice).

    Associations of another shape (an id that is no id, ``associationTypes`` that is no list)
    are ignored: at worst the company is unknown.
    """
    companies = []
    for target in associations if isinstance(associations, list) else []:
        company = text_id(target.get("toObjectId")) if isinstance(target, dict) else None
        if company is None or isinstance(target.get("toObjectId"), dict):
            continue
        types = target.get("associationTypes")
        primary = isinstance(types, list) and any(
            isinstance(kind, dict) and kind.get("typeId") == PRIMARY_COMPANY_TYPE for kind in types
        )
        companies.append((not primary, len(company), company))
    return min(companies)[2] if companies else None


def search_body(since_ms: int, properties: list[str], after: str | None) -> dict:
    modified = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(since_ms)}
    body = {
        "filterGroups": [{"filters": [modified]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": properties,
        "limit": BATCH_SIZE,
    }
    if after is not None:
        body["after"] = after
    return body


class HubSpotDeals:
    """The HubSpot ``DealSource``; ``monotonic`` paces the search API."""

    vendor = "hubspot"

    def __init__(
        self,
        http: VendorHttp,
        mapping: CrmMapping,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http, self.mapping = http, mapping
        self._monotonic = monotonic
        self._last_search = float("-inf")
        self._properties = deal_properties(mapping)

    async def close(self) -> None:
        await self.http.close()

    async def deal_events(self, deal_ids: Sequence[str]) -> dict[str, list[dict]]:
        """Native events per deal id (``9001`` or ``hubspot-9001``); absent: deleted."""
        batch = await self.fetch(deal_ids)
        return batch.events

    async def fetch(self, deal_ids: Sequence[str]) -> DealBatch:
        """Like ``deal_events``, with the deals whose data broke a mapping rule and why.

        Always asked of the API (no cache across calls): the answer is at least as recent as the
        delivery that asks, so the changes it reports are in it.
        """
        prefix = self.mapping.hubspot.deal_id_prefix
        keys, answer = list(dict.fromkeys(deal_ids)), DealBatch()
        for start in range(0, len(keys), BATCH_SIZE):
            chunk = keys[start : start + BATCH_SIZE]
            answer.merge(await self._read(chunk, [vendor_deal_id(k, prefix) for k in chunk]))
        return answer

    async def _read(self, keys: list[str], ids: list[str]) -> DealBatch:
        body = {"properties": self._properties, "inputs": [{"id": deal} for deal in ids]}
        answer = await self.http.post(BATCH_READ, body)
        records = {text_id(r.get("id")): r for r in _results(answer)}
        companies = await self._companies([deal for deal in ids if deal in records])
        batch = DealBatch()
        for key, deal in zip(keys, ids, strict=True):
            if deal in records:
                record, company = records[deal], companies.get(deal)
                batch.add(key, lambda r=record, c=company: hubspot_state(r, c, self.mapping))
        return batch

    async def _companies(self, deal_ids: list[str]) -> dict[str, str]:
        """Deal id -> its associated company id, for the deals that have one."""
        if not deal_ids:
            return {}
        answer = await self.http.post(ASSOCIATIONS, {"inputs": [{"id": d} for d in deal_ids]})
        companies = {}
        for result in _results(answer):
            origin = result.get("from")
            deal = text_id(origin.get("id")) if isinstance(origin, dict) else None
            company = primary_company(result.get("to"))
            if deal is not None and company is not None:
                companies[deal] = company
        return companies

    async def modified_since(self, since: datetime) -> AsyncIterator[DealBatch]:
        """Pages of deals modified at or after ``since``, keyed by native deal id."""
        since_ms, after, seen, cursors = _epoch_ms(since), None, 0, set()
        while True:
            answer = await self._search(since_ms, after)
            records = _results(answer)
            seen += len(records)
            if records:
                yield await self._page(records)
            after = _next_after(answer)
            if after is None:
                return
            if (since_ms, after) in cursors:
                raise VendorRefused(f"hubspot API: search paging repeats after={after!r}")
            cursors.add((since_ms, after))
            if seen + BATCH_SIZE > SEARCH_CAP:
                since_ms, after, seen = _restart_from(records, since_ms), None, 0

    async def _search(self, since_ms: int, after: str | None) -> dict:
        pause = SEARCH_INTERVAL_S - (self._monotonic() - self._last_search)
        if pause > 0:
            await self.http.pause(pause)
        self._last_search = self._monotonic()
        return await self.http.post(SEARCH, search_body(since_ms, self._properties, after))

    async def _page(self, records: list[dict]) -> DealBatch:
        prefix = self.mapping.hubspot.deal_id_prefix
        ids = [deal for deal in (text_id(r.get("id")) for r in records) if deal is not None]
        companies = await self._companies(ids)
        batch = DealBatch()
        for record in records:
            deal = text_id(record.get("id")) or "?"
            company = companies.get(deal)
            build = lambda r=record, c=company: hubspot_state(r, c, self.mapping)  # noqa: E731
            batch.add(f"{prefix}{deal}", build)
        return batch


def _results(answer: dict) -> list[dict]:
    """The answer's ``results`` (objects only); VendorRefused when it has no such list."""
    results = answer.get("results")
    if not isinstance(results, list):
        raise VendorRefused(
            "hubspot API: the answer has no results list (not the documented shape)"
        )
    return [r for r in results if isinstance(r, dict)]


def _next_after(answer: dict) -> str | None:
    paging = answer.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    return text_id(following.get("after")) if isinstance(following, dict) else None


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _restart_from(records: list[dict], since_ms: int) -> int:
    """The last modification instant of a page: where a query capped at 10,000 starts again.

    More than 10,000 deals modified in the same millisecond cannot be split by time: that is
    reported rather than looped on.
    """
    last = vendor_time((records[-1].get("properties") or {}).get("hs_lastmodifieddate"))
    restart = _epoch_ms(last) if last is not None else since_ms
    if restart <= since_ms:
        raise VendorUnavailable(
            "hubspot API: more than 10,000 deals share one modification instant; "
            "the search API cannot page past them"
        )
    return restart
