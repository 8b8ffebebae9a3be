"""Which export columns mean what, per CRM (``salespulse backfill --mapping FILE``).

A mapping names the column of each logical field of a deal (or activity) row. Every vendor has
defaults matching its standard export (below); a TOML or JSON file overrides any of them, e.g.::

    # backfill-mapping.toml
    record_id = "Deal ID"
    channel = "Lead source"
    segment = "Customer type"
    probability = "Probability (%)"
    probability_scale = "percent"        # 0..100 (HubSpot's default is "fraction", 0..1)
    won_stages = ["Closed Won", "Won (legacy)"]

Owners become reps and teams, and record ids become deal ids, exactly as for live webhooks: by the
CRM mapping (``SALESPULSE_CRM_MAPPING_FILE``, docs/CRM.md), so imported history and live updates
of the same deal meet under the same ``deal_id``. Unknown keys are refused.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from events.errors import InvalidInput


class ExportMappingError(InvalidInput):
    """The mapping file cannot be read or does not follow the documented keys."""


class ExportMapping(BaseModel):
    """Column names (None: the export has no such column) and stage values of one export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: str
    """The CRM's id of the deal (required in every row)."""
    created_at: str | None = None
    """When the deal was created: deal.created (or deal.updated) at that time."""
    closed_at: str | None = None
    """When it was won or lost, if no more specific column below."""
    won_at: str | None = None
    lost_at: str | None = None
    stage: str | None = None
    """Stage or status; a value in won_stages / lost_stages gives deal.won / deal.lost."""
    owner: str | None = None
    """CRM owner id, mapped to rep_id and team_id by the CRM mapping."""
    rep: str | None = None
    """A column holding the native rep_id itself (overrides the owner's)."""
    team: str | None = None
    """A column holding the native team_id itself (overrides the owner's)."""
    amount: str | None = None
    currency: str | None = None
    customer: str | None = None
    channel: str | None = None
    lost_reason: str | None = None
    probability: str | None = None
    """Probability of closing, read on ``probability_scale``; a cell ending in % is a percent."""
    probability_scale: Literal["fraction", "percent"] = "percent"
    segment: str | None = None
    """Customer type; the CRM mapping's ``segment_values`` translate it like live webhooks."""
    kind: str | None = None
    """Record type column for exports mixing deals and activities; None: every row is a deal."""
    deal_kinds: tuple[str, ...] = ("deal", "Deal", "opportunity", "Opportunity")
    call_kinds: tuple[str, ...] = ("call", "Call")
    deal_ref: str | None = None
    """For an activity row: the record id of its deal (optional)."""
    won_stages: tuple[str, ...] = ()
    lost_stages: tuple[str, ...] = ()
    date_only_is_utc_midnight: bool = True
    """A date without a time (Salesforce's CloseDate) counts at 00:00 UTC of that day."""


VENDOR_DEFAULTS: dict[str, dict] = {
    "hubspot": {
        "record_id": "Record ID",
        "created_at": "Create Date",
        "closed_at": "Close Date",
        "stage": "Deal Stage",
        "owner": "Deal owner",
        "amount": "Amount",
        "currency": "Currency",
        "customer": "Associated Company IDs",
        "probability": "Deal probability",
        "probability_scale": "fraction",
        "won_stages": ("closedwon", "Closed Won"),
        "lost_stages": ("closedlost", "Closed Lost"),
    },
    "pipedrive": {
        "record_id": "Deal - ID",
        "created_at": "Deal - Deal created",
        "closed_at": "Deal - Deal closed on",
        "won_at": "Deal - Won time",
        "lost_at": "Deal - Lost time",
        "stage": "Deal - Status",
        "owner": "Deal - Owner ID",
        "amount": "Deal - Value",
        "currency": "Deal - Currency",
        "customer": "Deal - Organization ID",
        "lost_reason": "Deal - Lost reason",
        "probability": "Deal - Probability",
        "won_stages": ("won", "Won"),
        "lost_stages": ("lost", "Lost"),
    },
    "salesforce": {
        "record_id": "Id",
        "created_at": "CreatedDate",
        "closed_at": "CloseDate",
        "stage": "StageName",
        "owner": "OwnerId",
        "amount": "Amount",
        "currency": "CurrencyIsoCode",
        "customer": "AccountId",
        "probability": "Probability",
        "won_stages": ("Closed Won",),
        "lost_stages": ("Closed Lost",),
    },
}
VENDORS = tuple(VENDOR_DEFAULTS)


def export_mapping(vendor: str, overrides: dict | None = None) -> ExportMapping:
    """The vendor's defaults with ``overrides`` applied; ExportMappingError if a key is wrong."""
    try:
        return ExportMapping.model_validate({**VENDOR_DEFAULTS[vendor], **(overrides or {})})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ExportMappingError(f"backfill mapping for {vendor}: {problems}") from None


def load_export_mapping(vendor: str, path: Path | None) -> ExportMapping:
    if path is None:
        return export_mapping(vendor)
    try:
        raw = path.read_bytes()
        data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ExportMappingError(f"cannot read backfill mapping {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ExportMappingError(f"backfill mapping {path}: must be a table of keys")
    return export_mapping(vendor, data)
