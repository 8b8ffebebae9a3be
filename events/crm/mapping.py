"""The CRM mapping file: how vendor data becomes native deal attributes (docs/CRM.md).

One TOML (or JSON) file, named by ``SALESPULSE_CRM_MAPPING_FILE``, with a table per vendor. Every
key has a default, so no file at all is a valid configuration. Unknown keys are refused, so a
misspelt key fails at start instead of silently mapping nothing.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from events._fields import MAX_SEGMENT_LENGTH
from events.errors import Misconfigured


class MappingError(Misconfigured):
    """The mapping file cannot be read or does not follow the documented format."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Strict):
    """A CRM user: the rep the deals of that user count for, and the rep's team."""

    rep_id: str = Field(min_length=1, max_length=128)
    team_id: str | None = Field(None, min_length=1, max_length=128)


Segment = Annotated[str, Field(min_length=1, max_length=MAX_SEGMENT_LENGTH)]


class VendorMapping(_Strict):
    """What every vendor table has: deal id prefix, owners, default team."""

    deal_id_prefix: str = ""
    rep_id_prefix: str = ""
    default_team: str | None = Field(None, min_length=1, max_length=128)
    owners: dict[str, Owner] = {}
    segment_values: dict[str, Segment] = {}
    """CRM value of the segment field (an option id or label) -> the native segment."""
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    """Currency of a deal whose own currency the CRM does not send (unset: the reporting one)."""


class HubSpotMapping(VendorMapping):
    deal_id_prefix: str = "hubspot-"
    rep_id_prefix: str = "hubspot-owner-"
    won_stages: tuple[str, ...] = ("closedwon",)
    lost_stages: tuple[str, ...] = ("closedlost",)
    stage_property: str = "dealstage"
    amount_property: str = "amount"
    owner_property: str = "hubspot_owner_id"
    customer_property: str | None = "customer_id"
    channel_property: str | None = None
    probability_property: str | None = "hs_deal_stage_probability"
    segment_property: str | None = None
    currency_property: str | None = "deal_currency_code"
    reopen_on_open_stage: bool = True


class PipedriveMapping(VendorMapping):
    deal_id_prefix: str = "pipedrive-"
    rep_id_prefix: str = "pipedrive-user-"
    customer_fields: tuple[str, ...] = ("org_id", "person_id")
    channel_field: str | None = None
    probability_field: str | None = "probability"
    stage_probabilities: dict[str, Annotated[float, Field(ge=0, le=100)]] = {}
    """Stage id -> its deal probability in percent, used when the deal's own is null."""
    segment_field: str | None = None


class SalesforceMapping(VendorMapping):
    deal_id_prefix: str = "salesforce-"
    rep_id_prefix: str = "salesforce-user-"
    won_stages: tuple[str, ...] = ("Closed Won",)
    lost_stages: tuple[str, ...] = ("Closed Lost",)
    customer_field: str | None = "AccountId"
    channel_field: str | None = None
    lost_reason_field: str | None = None
    probability_field: str | None = "Probability"
    segment_field: str | None = None
    emit_reopened: bool = True


class CrmMapping(_Strict):
    default_team: str | None = Field(None, min_length=1, max_length=128)
    hubspot: HubSpotMapping = HubSpotMapping()
    pipedrive: PipedriveMapping = PipedriveMapping()
    salesforce: SalesforceMapping = SalesforceMapping()

    def owner_attrs(self, vendor: VendorMapping, owner_id: str | None) -> dict[str, str | None]:
        """rep_id and team_id for a CRM owner id; empty when the owner is unknown (None).

        A listed owner maps to its rep and team (or the default team); an unlisted one to
        ``rep_id_prefix + id`` and the default team, so its deals still count for a rep as soon
        as a default team is configured. Without any team they count nowhere (contract rule 2).
        """
        if owner_id is None:
            return {}
        team = vendor.default_team or self.default_team
        owner = vendor.owners.get(owner_id)
        if owner is None:
            return {"rep_id": f"{vendor.rep_id_prefix}{owner_id}", "team_id": team}
        return {"rep_id": owner.rep_id, "team_id": owner.team_id or team}

    @staticmethod
    def segment(vendor: VendorMapping, value: str | None) -> str | None:
        """The native segment of a CRM value: its ``segment_values`` entry, else the value.

        A value longer than the contract allows is passed on, so the delivery is refused with
        the contract's reason rather than counted under a silently cut label.
        """
        if value is None:
            return None
        return vendor.segment_values.get(value, value)


def load_mapping(path: Path | str | None) -> CrmMapping:
    """The mapping in ``path`` (.toml or .json), or the defaults when ``path`` is None."""
    if path is None:
        return CrmMapping()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError(f"cannot read CRM mapping file {path}: {exc.strerror}") from exc
    data = _decode(path, raw)
    try:
        return CrmMapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise MappingError(f"CRM mapping file {path} is invalid: {problems}") from None


def _decode(path: Path, raw: bytes) -> object:
    try:
        if path.suffix.lower() == ".json":
            return json.loads(raw)
        if path.suffix.lower() == ".toml":
            return tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        kind = path.suffix[1:].upper()
        raise MappingError(f"CRM mapping file {path} is not valid {kind}: {exc}") from exc
    raise MappingError(f"CRM mapping file {path} must end in .toml or .json")
