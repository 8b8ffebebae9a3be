"""Where the golden data is: ``shared/golden`` beside the repository (or $SALESPULSE_GOLDEN_DIR).

``post_golden_through_api`` posts the golden lines to a running ingest, as the stack tests (e2e,
the SASL integration test) feed it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(os.environ.get("SALESPULSE_GOLDEN_DIR", REPO.parent / "shared" / "golden"))
GOLDEN_AS_OF = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)


def golden_lines() -> list[str]:
    return (GOLDEN_DIR / "events.jsonl").read_text(encoding="utf-8").splitlines()


def is_invalid_golden_line(line: str) -> bool:
    """The 8 lines the golden data marks invalid (ids ``bad-*`` and the empty id)."""
    event_id = json.loads(line).get("event_id")
    return not event_id or str(event_id).startswith("bad-")


def golden_expected() -> dict:
    return json.loads((GOLDEN_DIR / "expected.json").read_text(encoding="utf-8"))


def golden_topic_and_key(names, line: str) -> tuple[str, bytes]:
    """Where a producer following contract section 7 would put this line (best effort if bad)."""
    event = json.loads(line)
    kind = str(event.get("type", ""))
    if kind == "call.logged":
        return names.call_events, str(event.get("rep_id", "")).encode()
    if kind == "cost.incurred":
        return names.cost_events, str(event.get("team_id") or "company").encode()
    return names.deal_events, str(event.get("deal_id", "")).encode()


def golden_messages(names) -> list[tuple[str, bytes, bytes]]:
    """Every golden line as (topic, key, value), in arrival order, for ``produce_raw``."""
    return [(*golden_topic_and_key(names, line), line.encode()) for line in golden_lines()]


GOLDEN_V2_DIR = GOLDEN_DIR / "v2"
"""Contract v2's golden data: the same history with segments, probabilities and 3 more invalid
lines, and every KPI of v2 (``is_invalid_golden_line`` holds for its invalid lines too)."""


def golden_v2_lines() -> list[str]:
    return (GOLDEN_V2_DIR / "events.jsonl").read_text(encoding="utf-8").splitlines()


def golden_v2_expected() -> dict:
    return json.loads((GOLDEN_V2_DIR / "expected.json").read_text(encoding="utf-8"))


def post_golden_through_api(ingest_url: str, lines: list[str] | None = None) -> int:
    """Valid lines in arrival order (batches), each invalid line alone; returns the 422 count.
    ``lines``: the golden v1 file unless given (golden v2's)."""
    refused, batch = 0, []
    with httpx.Client(base_url=ingest_url, timeout=30) as client:

        def flush() -> None:
            if batch:
                response = client.post("/v1/events", content=f"[{','.join(batch)}]")
                assert response.status_code == 202, response.text
                batch.clear()

        for line in lines if lines is not None else golden_lines():
            if is_invalid_golden_line(line):
                flush()
                response = client.post("/v1/events", content=line)
                assert response.status_code == 422, line
                assert response.json()["error"]["invalid"][0]["reasons"]
                refused += 1
            else:
                batch.append(line)
                if len(batch) == 500:
                    flush()
        flush()
    return refused
