"""Settings group: the CRM vendors' APIs, which enrich webhook deliveries and feed `crm sync`.

A vendor's API is called only when its token (and, for Pipedrive and Salesforce, its instance URL)
is set; the timeout and retries bound how long one unavailable vendor can hold a delivery up.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class CrmApiSettings(BaseModel):
    """Per-vendor API credentials and base URLs, and the deadline and retries of one request."""

    hubspot_private_app_token: SecretStr | None = Field(
        None,
        description="Access token of a HubSpot private app (scopes crm.objects.deals.read, "
        "crm.objects.companies.read; docs/CRM.md): enriches webhook deliveries with the "
        "deal's current properties and company, and lets `salespulse crm sync --crm hubspot` "
        "run. Unset: no HubSpot API calls.",
    )
    hubspot_api_base_url: str = Field(
        "https://api.hubapi.com",
        description="Base URL of HubSpot's API (changed only to point tests at a local fake).",
    )
    pipedrive_api_token: SecretStr | None = Field(
        None,
        description="Pipedrive API token (Personal preferences > API) of a user with global "
        "permissions, for `salespulse crm sync --crm pipedrive`. Unset: no Pipedrive API calls.",
    )
    pipedrive_api_base_url: str | None = Field(
        None,
        description="Your Pipedrive company domain, e.g. https://acme.pipedrive.com; needed "
        "with pipedrive_api_token.",
    )
    salesforce_instance_url: str | None = Field(
        None,
        description="Your Salesforce instance URL, e.g. https://acme.my.salesforce.com; with "
        "salesforce_access_token, enables `salespulse crm sync --crm salesforce`.",
    )
    salesforce_access_token: SecretStr | None = Field(
        None,
        description="OAuth access token of a Salesforce connected app user allowed to read "
        "Opportunities (sent as a Bearer token to the REST API).",
    )
    salesforce_api_version: str = Field(
        "62.0",
        pattern=r"^\d{2,3}\.0$",
        description="Salesforce REST API version used for queries, e.g. 62.0.",
    )
    crm_api_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds one CRM API request may take (connect, read, write each).",
    )
    crm_api_max_retries: int = Field(
        4,
        ge=0,
        le=10,
        description="Retries of one CRM API request after a 429, a 5xx or a timeout, with "
        "exponential backoff and jitter (429: the vendor's Retry-After); past them, or past "
        "60 s of waiting in all, the call fails and is retried later.",
    )
