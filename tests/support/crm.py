"""CRM webhook test helpers: vendor-shaped fixtures, signed HubSpot headers, Basic auth, SOAP.

The fixtures in ``tests/fixtures/crm/`` follow each vendor's documented examples; the helpers sign
and wrap them the way the vendor would, so tests exercise the real authentication paths.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path

from events.crm.hubspot_signature import signature_v3
from events.crm.mapping import CrmMapping, load_mapping

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "crm"
MAPPING_FILE = FIXTURES / "crm_mapping.toml"
HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
PIPEDRIVE_USER, PIPEDRIVE_PASSWORD = "salespulse", "pipe-s3cret"
SALESFORCE_ORG = "00D5g000004ABCDEAZ"
SALESFORCE_TOKEN = "sf-url-t0ken"
SALESFORCE_PATH = f"/v1/webhooks/salesforce?token={SALESFORCE_TOKEN}"
"""Where Salesforce posts: the org id is no secret, the URL token authenticates a delivery."""


def fixture_json(name: str):
    """A fresh copy of a JSON fixture (tests may change it)."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_text()))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_mapping() -> CrmMapping:
    return load_mapping(MAPPING_FILE)


def now_ms() -> int:
    return int(time.time() * 1000)


def hubspot_headers(
    body: bytes,
    uri: str,
    secret: str = HUBSPOT_SECRET,
    timestamp_ms: int | None = None,
    method: str = "POST",
) -> dict[str, str]:
    """The v3 headers HubSpot sends with ``body`` to ``uri``."""
    timestamp = str(now_ms() if timestamp_ms is None else timestamp_ms)
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature_v3(secret, method, uri, body, timestamp),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def basic_auth(user: str = PIPEDRIVE_USER, password: str = PIPEDRIVE_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def soap_notifications(org: str, notifications: list[tuple[str, dict[str, str | None]]]) -> bytes:
    """An Outbound Message envelope: (notification id, Opportunity fields) per notification."""
    parts = []
    for notification_id, fields in notifications:
        values = "".join(
            f'<sf:{name} xsi:nil="true"/>' if value is None else f"<sf:{name}>{value}</sf:{name}>"
            for name, value in fields.items()
        )
        parts.append(
            f"<Notification><Id>{notification_id}</Id>"
            '<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"{values}</sObject></Notification>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k5g000000XYZ1AAA</ActionId>"
        f"{''.join(parts)}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def webhook_settings(**overrides) -> dict:
    """Settings fields that configure all three webhooks with the test credentials."""
    return {
        "hubspot_client_secret": HUBSPOT_SECRET,
        "pipedrive_user": PIPEDRIVE_USER,
        "pipedrive_password": PIPEDRIVE_PASSWORD,
        "salesforce_organization_id": SALESFORCE_ORG,
        "salesforce_token": SALESFORCE_TOKEN,
        "crm_mapping_file": str(MAPPING_FILE),
        **overrides,
    }


def webhook_env() -> dict[str, str]:
    """The same configuration as environment variables, for real ingest processes."""
    return {f"SALESPULSE_{name.upper()}": value for name, value in webhook_settings().items()}
