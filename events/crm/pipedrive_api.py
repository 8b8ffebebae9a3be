"""Pipedrive's API v2 as a deal source: deals by id and deals updated since T.

``GET /api/v2/deals`` answers both: ``ids`` (up to 100) for deals by id, ``updated_since``
(RFC 3339) for a sync, with cursor paging (``additional_data.next_cursor``). Deleted deals are
left out by default, which is what "missing = no longer exists" needs. The token travels in the
``x-api-token`` header, never in the URL. Each deal carries its own ``currency``. A cursor the
API already gave in this sync is refused (``VendorRefused``) rather than followed for ever.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from events.crm.common import rfc3339, text_id
from events.crm.deal_records import DealBatch, pipedrive_state, vendor_deal_id
from events.crm.deal_source import VendorRefused
from events.crm.mapping import CrmMapping
from events.crm.vendor_http import VendorHttp

DEALS = "/api/v2/deals"
IDS_PER_CALL = 100
PAGE_SIZE = 500
"""Pipedrive's largest ``limit`` for API v2 lists."""


class PipedriveDeals:
    """The Pipedrive ``DealSource``."""

    vendor = "pipedrive"

    def __init__(self, http: VendorHttp, mapping: CrmMapping) -> None:
        self.http, self.mapping = http, mapping

    async def close(self) -> None:
        await self.http.close()

    async def deal_events(self, deal_ids: Sequence[str]) -> dict[str, list[dict]]:
        return (await self.fetch(deal_ids)).events

    async def fetch(self, deal_ids: Sequence[str]) -> DealBatch:
        """Events per asked id (``77`` or ``pipedrive-77``), with the refused deals and why."""
        prefix = self.mapping.pipedrive.deal_id_prefix
        keys = list(dict.fromkeys(deal_ids))
        batch = DealBatch()
        for start in range(0, len(keys), IDS_PER_CALL):
            chunk = {vendor_deal_id(key, prefix): key for key in keys[start : start + IDS_PER_CALL]}
            params = {"ids": ",".join(chunk), "limit": IDS_PER_CALL}
            for deal in _deals(await self.http.get(DEALS, params)):
                key = chunk.get(text_id(deal.get("id")) or "")
                if key is not None:
                    batch.add(key, lambda d=deal: pipedrive_state(d, self.mapping))
        return batch

    async def modified_since(self, since: datetime) -> AsyncIterator[DealBatch]:
        """Pages of deals whose ``update_time`` is at or after ``since``, by native deal id."""
        prefix = self.mapping.pipedrive.deal_id_prefix
        params = {"updated_since": rfc3339(since.replace(microsecond=0)), "limit": PAGE_SIZE}
        cursors: set[str] = set()
        while True:
            answer = await self.http.get(DEALS, params)
            batch = DealBatch()
            for deal in _deals(answer):
                key = f"{prefix}{text_id(deal.get('id')) or '?'}"
                batch.add(key, lambda d=deal: pipedrive_state(d, self.mapping))
            if batch.events or batch.refused:
                yield batch
            extra = answer.get("additional_data")
            cursor = text_id(extra.get("next_cursor")) if isinstance(extra, dict) else None
            if cursor is None:
                return
            if cursor in cursors:
                raise VendorRefused(f"pipedrive API: paging repeats cursor {cursor!r}")
            cursors.add(cursor)
            params = {**params, "cursor": cursor}


def _deals(answer: dict) -> list[dict]:
    """The answer's deals; an empty result is ``data: null``, anything else is no answer."""
    data = answer.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise VendorRefused("pipedrive API: an answer whose data is no list (not as documented)")
    return [deal for deal in data if isinstance(deal, dict)]
