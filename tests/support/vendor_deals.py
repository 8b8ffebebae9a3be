"""One deal history, told two ways: as each vendor's API returns it now, and as its webhooks did.

A ``DealSpec`` is vendor-neutral (owner, customer, amount, created, closed); the builders give
the API record a fake portal serves and the webhook deliveries the adapters map, so that a test
can compare the KPIs of ``crm sync`` with those of the webhooks for the same deals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events.crm.common import rfc3339
from events.crm.salesforce_soap import Notification, OutboundMessage

SF_ORG = "00D5g000004ABCDEAZ"


@dataclass(frozen=True)
class DealSpec:
    key: str
    owner: str
    customer: str
    amount: int
    created: datetime
    status: str = "open"  # open | won | lost
    closed: datetime | None = None

    @property
    def modified(self) -> datetime:
        return self.closed or self.created


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _sf_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


# -- HubSpot -------------------------------------------------------------------------------------


def hubspot_record(deal: DealSpec) -> dict:
    stage = {"won": "closedwon", "lost": "closedlost"}.get(deal.status, "appointmentscheduled")
    properties = {
        "amount": str(deal.amount),
        "createdate": rfc3339(deal.created),
        "closedate": rfc3339(deal.closed) if deal.closed else None,
        "dealstage": stage,
        "deal_currency_code": "EUR",
        "hs_is_closed": "true" if deal.status != "open" else "false",
        "hs_is_closed_won": "true" if deal.status == "won" else "false",
        "hs_lastmodifieddate": rfc3339(deal.modified),
        "hs_v2_date_entered_current_stage": rfc3339(deal.modified),
        "hubspot_owner_id": deal.owner,
        "pipeline": "default",
    }
    return {
        "id": deal.key,
        "properties": properties,
        "createdAt": rfc3339(deal.created),
        "updatedAt": rfc3339(deal.modified),
        "archived": False,
    }


def hubspot_deliveries(deal: DealSpec) -> list[list[dict]]:
    """A creation batched with its properties (the customer as the ``customer_id`` property),
    then the stage change that closed it."""

    def event(number: int, kind: str, at: datetime, **extra) -> dict:
        return {
            "eventId": int(deal.key) * 10 + number,
            "subscriptionId": 234560 + number,
            "portalId": 62515,
            "occurredAt": _ms(at),
            "subscriptionType": f"deal.{kind}",
            "attemptNumber": 0,
            "objectId": int(deal.key),
            **extra,
        }

    def change(number: int, name: str, value: str, at: datetime) -> dict:
        return event(number, "propertyChange", at, propertyName=name, propertyValue=value)

    created = [
        event(0, "creation", deal.created),
        change(1, "amount", str(deal.amount), deal.created),
        change(2, "hubspot_owner_id", deal.owner, deal.created),
        change(3, "customer_id", deal.customer, deal.created),
    ]
    if deal.status == "open":
        return [created]
    stage = "closedwon" if deal.status == "won" else "closedlost"
    return [created, [change(4, "dealstage", stage, deal.closed)]]


# -- Pipedrive -----------------------------------------------------------------------------------


def pipedrive_record(deal: DealSpec, status: str | None = None) -> dict:
    status = status or deal.status
    return {
        "id": int(deal.key),
        "title": f"Deal {deal.key}",
        "owner_id": int(deal.owner),
        "org_id": int(deal.customer),
        "person_id": None,
        "stage_id": 1,
        "pipeline_id": 1,
        "value": deal.amount,
        "currency": "EUR",
        "add_time": rfc3339(deal.created),
        "update_time": rfc3339(deal.modified if status != "open" else deal.created),
        "stage_change_time": None,
        "status": status,
        "probability": None,
        "lost_reason": None,
        "won_time": rfc3339(deal.closed) if status == "won" else None,
        "lost_time": rfc3339(deal.closed) if status == "lost" else None,
        "close_time": rfc3339(deal.closed) if status != "open" else None,
        "custom_fields": {},
    }


def pipedrive_deliveries(deal: DealSpec) -> list[dict]:
    def webhook(action: str, at: datetime, data: dict, previous: dict | None) -> dict:
        meta = {
            "action": action,
            "entity": "deal",
            "company_id": "12882925",
            "id": f"{deal.key}-{action}",
            "timestamp": rfc3339(at),
            "version": "2.0",
        }
        return {"meta": meta, "data": data, "previous": previous}

    created = webhook("create", deal.created, pipedrive_record(deal, "open"), None)
    if deal.status == "open":
        return [created]
    return [created, webhook("change", deal.closed, pipedrive_record(deal), {"status": "open"})]


# -- Salesforce ----------------------------------------------------------------------------------


def salesforce_record(deal: DealSpec) -> dict:
    stage = {"won": "Closed Won", "lost": "Closed Lost"}.get(deal.status, "Prospecting")
    return {
        "attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v62.0/sobjects/Opportunity/{deal.key}",
        },
        "Id": deal.key,
        "Amount": float(deal.amount),
        "StageName": stage,
        "IsClosed": deal.status != "open",
        "IsWon": deal.status == "won",
        "CloseDate": (deal.closed or deal.created).date().isoformat(),
        "OwnerId": deal.owner,
        "AccountId": deal.customer,
        "CreatedDate": _sf_time(deal.created),
        "LastModifiedDate": _sf_time(deal.modified),
        "LastStageChangeDate": _sf_time(deal.modified),
        "Probability": None,
        "CurrencyIsoCode": "EUR",
    }


def salesforce_delivery(deal: DealSpec) -> OutboundMessage:
    """The Outbound Message sent on the deal's last change: its whole state, as text."""
    fields = {
        name: ("true" if value else "false") if isinstance(value, bool) else value
        for name, value in salesforce_record(deal).items()
        if name != "attributes" and value is not None
    }
    fields.update(
        Amount=str(deal.amount),
        CreatedDate=rfc3339(deal.created),
        LastModifiedDate=rfc3339(deal.modified),
        LastStageChangeDate=rfc3339(deal.modified),
    )
    note = Notification(id=f"04l{deal.key[-12:]}", sobject_type="Opportunity", fields=fields)
    return OutboundMessage(organization_id=SF_ORG, notifications=(note,))


def add_deals(portal, vendor: str, deals: list[DealSpec]) -> None:
    """Put ``deals`` into a fake ``Portal`` (``tests.support.fake_vendors``) as ``vendor``'s API
    answers them."""
    for deal in deals:
        if vendor == "hubspot":
            portal.hubspot_deals[deal.key] = hubspot_record(deal)
            portal.hubspot_companies[deal.key] = [deal.customer]
        elif vendor == "pipedrive":
            portal.pipedrive_deals[deal.key] = pipedrive_record(deal)
        else:
            portal.salesforce_opportunities[deal.key] = salesforce_record(deal)
