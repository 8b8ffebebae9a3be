"""Event ids derived from a CRM deal's state, shared by webhooks, enrichment and ``crm sync``.

A webhook delivery and a later ``salespulse crm sync`` describe the same facts about a deal (it
was created, won at T, lost at T). Both must publish those facts under one event id, so that the
workers drop the second as a duplicate (contract section 1) and a sync after the webhooks changes
nothing. Ids therefore name the fact, never the delivery that reported it:

- ``deal.created``: the deal (a deal is created once);
- ``deal.won`` / ``deal.lost`` / ``deal.reopened``: the deal and the instant of the change
  (a deal reopened and won again is a second win at another instant);
- ``deal.updated``: the deal, the instant and the attributes it sets (an update carrying the same
  values at the same instant is the same fact).
"""

from __future__ import annotations

from datetime import datetime

from events.crm.common import native_event_id, rfc3339


def created_id(vendor: str, deal_id: str) -> str:
    return native_event_id(vendor, "deal", deal_id, "created")


def status_change_id(vendor: str, deal_id: str, kind: str, at: datetime) -> str:
    """``kind``: ``won``, ``lost`` or ``reopened``."""
    return native_event_id(vendor, "deal", deal_id, kind, rfc3339(at))


def updated_id(vendor: str, deal_id: str, at: datetime, attrs: dict) -> str:
    present = sorted((name, value) for name, value in attrs.items() if value is not None)
    return native_event_id(vendor, "deal", deal_id, "updated", rfc3339(at), present)


def event_id(vendor: str, deal_id: str, kind: str, at: datetime, attrs: dict) -> str:
    """The id of a native deal event of type ``kind`` (``deal.created``, ``deal.updated``,
    ``deal.won``, ``deal.lost``, ``deal.reopened``): the one choice every adapter makes."""
    if kind == "deal.created":
        return created_id(vendor, deal_id)
    if kind == "deal.updated":
        return updated_id(vendor, deal_id, at, attrs)
    return status_change_id(vendor, deal_id, kind.removeprefix("deal."), at)
