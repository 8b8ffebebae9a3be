"""Where the golden data is: ``shared/golden`` beside the repository (or $SALESPULSE_GOLDEN_DIR)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

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
