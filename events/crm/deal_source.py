"""What the CRM edge asks of a vendor's API: complete native events for deals, by id.

A webhook often says only that a deal changed (HubSpot sends one property at a time); the deal's
whole state comes from the vendor's API. ``DealSource`` is that question, answered by the vendor
clients (enrichment of webhook deliveries, ``salespulse crm sync``) and by fakes in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from events.errors import Misconfigured, SalespulseError, Unavailable


class VendorError(SalespulseError):
    """A vendor API did not answer what was asked (its subclasses say on which branch)."""


class VendorUnavailable(Unavailable, VendorError):
    """Transient: timeouts, 5xx, 429 past the retry budget. Ask again later; nothing is lost."""


class VendorRefused(Misconfigured, VendorError):
    """Configuration: the token is missing, invalid or lacks a scope. Retrying will not help."""


class DealAnswer(Protocol):
    """What a source answers for deals asked by id (``events.crm.deal_records.DealBatch``).

    Keys are the ids as they were asked (``9001`` or ``hubspot-9001``). A deal in neither map
    no longer exists at the vendor.
    """

    events: dict[str, list[dict]]
    """Native events (ids from ``events.crm.deal_ids``) per deal id."""
    refused: dict[str, str]
    """Deals whose vendor data breaks a mapping rule (a bad amount, probability...): the reason."""


class DealSource(Protocol):
    vendor: str

    async def fetch(self, deal_ids: Sequence[str]) -> DealAnswer:
        """The deals' events and the deals refused, keyed by the ids as given."""
        ...

    async def deal_events(self, deal_ids: Sequence[str]) -> dict[str, list[dict]]:
        """``fetch(deal_ids).events``: a refused deal is absent, as a deleted one is."""
        ...

    async def close(self) -> None:
        """Release the source's HTTP client."""
        ...
