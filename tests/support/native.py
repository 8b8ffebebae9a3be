"""Native event objects (JSON dicts, as a client sends them) with sensible defaults."""

from __future__ import annotations

REQUIRED_FIELDS = {
    "deal.created": {
        "deal_id": "d-1",
        "rep_id": "r-1",
        "team_id": "t-1",
        "customer_id": "c-1",
        "amount": 1200.5,
    },
    "deal.updated": {"deal_id": "d-1"},
    "deal.won": {"deal_id": "d-1"},
    "deal.lost": {"deal_id": "d-1"},
    "deal.reopened": {"deal_id": "d-1"},
    "call.logged": {"rep_id": "r-1", "team_id": "t-1"},
    "cost.incurred": {"amount": 99.5, "category": "marketing"},
}
"""The fields each event type requires besides event_id, type and occurred_at (contract
section 1), with plain values."""


def deal_created(event_id: str, deal_id: str = "deal-1", **extra) -> dict:
    return {
        "event_id": event_id,
        "type": "deal.created",
        "occurred_at": "2026-02-14T10:00:00Z",
        "deal_id": deal_id,
        "rep_id": "rep-1",
        "team_id": "team-1",
        "customer_id": "c-1",
        "amount": 1200.5,
        **extra,
    }


def call_logged(event_id: str, rep_id: str = "rep-1") -> dict:
    return {
        "event_id": event_id,
        "type": "call.logged",
        "occurred_at": "2026-02-14T10:05:00+01:00",
        "rep_id": rep_id,
        "team_id": "team-1",
        "duration_s": 300,
    }


def cost_incurred(event_id: str, team_id: str | None = None) -> dict:
    event = {
        "event_id": event_id,
        "type": "cost.incurred",
        "occurred_at": "2026-02-14T09:00:00Z",
        "category": "marketing",
        "amount": 99.9,
        "channel": "linkedin",
    }
    return {**event, "team_id": team_id} if team_id else event
