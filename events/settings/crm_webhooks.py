"""Settings group: the CRM webhook endpoints of ingest and the interpreter behind them.

Each vendor's endpoint answers 404 until its secret is set, so a deployment exposes only the CRMs
it configured; a Salesforce org id without its token is refused at start, since the org id alone
authenticates nothing.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator


class CrmWebhookSettings(BaseModel):
    """CRM mapping, per-vendor webhook credentials, and the deadlines of a delivery."""

    crm_mapping_file: Path | None = Field(
        None,
        description="TOML or JSON file mapping CRM data to native events (owners to reps and "
        "teams, deal stages, customer fields; docs/CRM.md). Unset: the documented defaults.",
    )
    webhook_public_url: str | None = Field(
        None,
        description="Public base URL the CRMs call (e.g. https://kpis.example.com), used to "
        "rebuild the URI that HubSpot signs when ingest sits behind a proxy. Unset: the request's "
        "own scheme and Host header.",
    )
    hubspot_client_secret: SecretStr | None = Field(
        None,
        description="Client secret of the HubSpot app whose webhooks POST /v1/webhooks/hubspot "
        "receives; it keys the request signatures. Unset: the endpoint answers 404.",
    )
    hubspot_signature_versions: str = Field(
        "v3",
        description="Comma-separated HubSpot signature versions accepted: v3 (HMAC with a "
        "timestamp, the default), and the older v2 and v1 (no replay protection) if listed.",
    )
    pipedrive_user: str | None = Field(
        None,
        description="HTTP Basic user name configured on the Pipedrive webhook (Settings > "
        "Webhooks > HTTP Auth). Both user and password unset: the endpoint answers 404.",
    )
    pipedrive_password: SecretStr | None = Field(
        None, description="HTTP Basic password configured on the Pipedrive webhook."
    )
    salesforce_organization_id: str | None = Field(
        None,
        description="Salesforce org id (15 or 18 characters) whose Outbound Messages are "
        "accepted; others are refused. Unset: the endpoint answers 404.",
    )
    salesforce_token: SecretStr | None = Field(
        None,
        description="Secret the Salesforce endpoint URL must carry as ?token=<value> (Outbound "
        "Messages cannot send an Authorization header; the org id alone is not a secret). "
        "Required whenever salesforce_organization_id is set: a worker or ingest refuses to "
        "start without it.",
    )
    webhook_ack_timeout_s: float = Field(
        3.0,
        gt=0,
        le=9.0,
        description="How long a CRM webhook waits for the broker to acknowledge the delivery's "
        "raw record before answering 503 (the CRM retries). Well inside the CRMs' own delivery "
        "timeouts (HubSpot 5 s, Pipedrive 10 s, Salesforce 60 s: docs/CRM.md).",
    )
    crm_interpreter_retry_max_s: float = Field(
        30.0,
        gt=0,
        description="Longest pause of the CRM delivery interpreter between two attempts at a "
        "delivery it could not finish (broker or vendor API unavailable); pauses double from "
        "0.5 s up to it.",
    )

    @field_validator("hubspot_signature_versions")
    @classmethod
    def _known_signature_versions(cls, value: str) -> str:
        versions = [v.strip().lower() for v in value.split(",") if v.strip()]
        unknown = sorted(set(versions) - {"v1", "v2", "v3"})
        if not versions or unknown:
            raise ValueError(f"expected a comma-separated list of v1, v2, v3; got {value!r}")
        return ",".join(versions)

    @model_validator(mode="after")
    def _salesforce_needs_token(self) -> CrmWebhookSettings:
        # The org id travels in every Outbound Message and is no secret: alone it lets anyone forge
        # deliveries. Refuse to start rather than run an endpoint that authenticates nothing.
        if self.salesforce_organization_id and self.salesforce_token is None:
            raise ValueError(
                "salesforce_organization_id enables the Salesforce endpoint, which then needs "
                "salesforce_token (the endpoint URL's ?token=): the org id alone is not a secret"
            )
        return self

    @property
    def hubspot_versions(self) -> frozenset[str]:
        """The accepted HubSpot signature versions, e.g. frozenset({"v3"})."""
        return frozenset(self.hubspot_signature_versions.split(","))
