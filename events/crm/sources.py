"""The deal sources configured for a process: one per vendor whose API credentials are set.

Ingest asks them to complete webhook deliveries (HubSpot sends one property at a time);
``salespulse crm sync`` asks them for the deals modified since T. A vendor without credentials
has no source, and its deliveries are interpreted from their own content only.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from events.crm.deal_source import DealSource
from events.crm.hubspot_api import HubSpotDeals
from events.crm.mapping import CrmMapping
from events.crm.pipedrive_api import PipedriveDeals
from events.crm.salesforce_api import SalesforceDeals
from events.crm.vendor_http import RetryPolicy, VendorHttp
from events.errors import Misconfigured
from events.settings import Settings

VENDORS = ("hubspot", "pipedrive", "salesforce")


class SourceNotConfigured(Misconfigured):
    """A vendor's API was asked for without the settings it needs (the message names them)."""


def deal_sources(settings: Settings, mapping: CrmMapping) -> dict[str, DealSource]:
    """Vendor name -> its ``DealSource``, for every vendor whose API is configured.

    Each source owns an HTTP client: call its ``close()`` when done.
    """
    return {
        vendor: deal_source(vendor, settings, mapping)
        for vendor in VENDORS
        if missing_settings(vendor, settings) == []
    }


def missing_settings(vendor: str, settings: Settings) -> list[str]:
    """The settings a vendor's API still needs (empty: it is configured)."""
    needed = {
        "hubspot": ("hubspot_private_app_token",),
        "pipedrive": ("pipedrive_api_token", "pipedrive_api_base_url"),
        "salesforce": ("salesforce_instance_url", "salesforce_access_token"),
    }[vendor]
    return [name for name in needed if not _secret(getattr(settings, name, None))]


def deal_source(vendor: str, settings: Settings, mapping: CrmMapping) -> Any:
    """The source of one vendor; ``SourceNotConfigured`` naming what is missing."""
    missing = missing_settings(vendor, settings)
    if missing:
        names = ", ".join(f"SALESPULSE_{name.upper()}" for name in missing)
        raise SourceNotConfigured(f"the {vendor} API is not configured: set {names}")
    if vendor == "hubspot":
        token = _secret(settings.hubspot_private_app_token)
        http = _http(vendor, settings.hubspot_api_base_url, _bearer(token), settings)
        return HubSpotDeals(http, mapping)
    if vendor == "pipedrive":
        headers = {"x-api-token": _secret(settings.pipedrive_api_token)}
        return PipedriveDeals(
            _http(vendor, settings.pipedrive_api_base_url, headers, settings), mapping
        )
    token = _secret(settings.salesforce_access_token)
    http = _http(vendor, settings.salesforce_instance_url, _bearer(token), settings)
    zone = ZoneInfo(settings.time_zone)
    return SalesforceDeals(http, mapping, settings.salesforce_api_version, zone)


def _http(vendor: str, base_url: str, headers: dict[str, str], settings: Settings) -> VendorHttp:
    policy = RetryPolicy(max_retries=settings.crm_api_max_retries)
    return VendorHttp(vendor, base_url, headers, settings.crm_api_timeout_s, policy)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _secret(value: Any) -> str:
    """The text of a setting, secret or not; empty when unset."""
    if value is None:
        return ""
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text.strip()
