"""Exactness: every KPI a worker answers against ``projections.recompute`` of the same events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import httpx

from events.models import EventPolicy, validate_event
from projections.query import render_instant
from projections.recompute import recompute
from projections.timebase import BucketGrid
from tests.support.kpis import kpi_mismatches


def expected_kpis(events: Sequence[dict], as_of: datetime) -> dict[str, dict]:
    """``scope|id|window`` -> KPIs at ``as_of`` of a from-scratch recomputation."""
    policy = EventPolicy()
    typed = [validate_event(event, policy) for event in events]
    return recompute(typed, BucketGrid("UTC")).report_all(as_of)


async def mismatches(
    base_url: str, expected: dict[str, dict], as_of: datetime, concurrency: int = 8
) -> list[str]:
    """Differences between ``GET /v1/kpis`` of every expected key and the expected KPIs."""
    problems: list[str] = []
    keys = list(expected)
    stamp = render_instant(as_of)

    async def check(client: httpx.AsyncClient, share: list[str]) -> None:
        for key in share:
            scope, scope_id, window = key.split("|")
            params = {"scope": scope, "id": scope_id, "window": window, "as_of": stamp}
            answer = await client.get("/v1/kpis", params=params)
            if answer.status_code != 200:
                problems.append(f"{key}: HTTP {answer.status_code} {answer.text[:200]}")
                continue
            problems.extend(
                f"{key} {p}" for p in kpi_mismatches(answer.json()["kpis"], expected[key])
            )

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(check(client, keys[i::concurrency]) for i in range(concurrency)))
    return problems
