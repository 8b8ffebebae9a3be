"""Judging a chaos scenario: every KPI held to a recomputation of what was accepted.

Two views of the same question, both against ``projections.recompute.recompute`` over exactly the
events that were accepted (acknowledged by ingest or by the broker):

- **every (scope, id, window)** the recomputation reports at the fixed ``as_of``, read through
  ``GET /v1/kpis``, must match (contract section 8's tolerance, ratios absent where absent);
- **a ledger of counts**: for every (scope, id) and consecutive 30-day windows tiling the whole
  history, the counts ``opportunities``, ``deals_won``, ``deals_lost`` and ``calls`` read back are
  compared with the recomputation. What is missing adds up to *lost*, what is in excess to
  *double-counted*; at company scope each event counts once, so those are numbers of events.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from tenacity import (
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_fixed,
)

from projections.query import render_instant
from projections.recompute import recompute
from projections.timebase import BucketGrid
from tests.support.kpis import kpi_mismatches
from tests.support.polling import poll

REPO = Path(__file__).resolve().parents[2]
LEDGER_KPIS = ("opportunities", "deals_won", "deals_lost", "calls")
LEDGER_WINDOW = "30d"
SCOPES = ("company", "team", "rep", "channel")
READ_ATTEMPTS = 20

RESULTS: list[Audit] = []
"""Every audit of the session, printed in pytest's terminal summary (tests/chaos/conftest.py)."""

VERDICTS_LOG = Path(
    os.environ.get("SALESPULSE_CHAOS_VERDICTS", REPO / ".local" / "chaos" / "verdicts.log")
)
"""Every verdict is also appended here, so that none is lost with an interrupted session."""


def record(result: Audit) -> None:
    """Keep ``result`` for the session summary, print it and append it to ``VERDICTS_LOG``."""
    RESULTS.append(result)
    text = result.summary()
    print(text)
    VERDICTS_LOG.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with VERDICTS_LOG.open("a", encoding="utf-8") as log:
        log.write(f"{stamp} {text}\n")


# --- the verdict -------------------------------------------------------------------------------


@dataclass
class ScopeLedger:
    expected: int = 0
    counted: int = 0
    lost: int = 0
    double_counted: int = 0


@dataclass
class Audit:
    scenario: str
    accepted: int
    """Distinct event ids acknowledged (by ingest with 202, or by the broker to a producer)."""
    deliveries: int
    """Records of those events written, duplicates included."""
    as_of: datetime
    compared: int = 0
    mismatches: list[str] = field(default_factory=list)
    ledgers: dict[str, ScopeLedger] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    """Scenario-specific numbers: times, kills, 503s, dead letters..."""

    @property
    def company(self) -> ScopeLedger:
        return self.ledgers.get("company", ScopeLedger())

    @property
    def lost(self) -> int:
        return self.company.lost

    @property
    def double_counted(self) -> int:
        return self.company.double_counted

    @property
    def keys_differing(self) -> int:
        """(scope, id, window) keys of the comparison at ``as_of`` with any difference."""
        return len({m.split(" ", 1)[0].split("@", 1)[0] for m in self.mismatches})

    @property
    def exact(self) -> bool:
        return not self.mismatches and all(
            not ledger.lost and not ledger.double_counted for ledger in self.ledgers.values()
        )

    def summary(self) -> str:
        company = self.company
        lines = [
            f"[chaos] {self.scenario}: accepted={self.accepted} deliveries={self.deliveries} "
            f"expected={company.expected} counted={company.counted} lost={company.lost} "
            f"double-counted={company.double_counted} "
            f"keys-differing={self.keys_differing}/{self.compared} "
            f"({'EXACT' if self.exact else 'NOT EXACT'})"
        ]
        for scope in SCOPES[1:]:
            ledger = self.ledgers.get(scope)
            if ledger and (ledger.lost or ledger.double_counted):
                lines.append(
                    f"    {scope}: expected={ledger.expected} counted={ledger.counted} "
                    f"lost={ledger.lost} double-counted={ledger.double_counted}"
                )
        if self.facts:
            lines.append("    " + " ".join(f"{k}={v}" for k, v in self.facts.items()))
        lines += [f"    {m}" for m in self.mismatches[:12]]
        if len(self.mismatches) > 12:
            lines.append(f"    ... {len(self.mismatches) - 12} more mismatches")
        return "\n".join(lines)


def ledger_tiles(first_event: datetime, as_of: datetime) -> list[datetime]:
    """``as_of`` instants whose 30-day windows tile [first event's day, as_of's day] exactly."""
    day = first_event.replace(hour=12, minute=0, second=0, microsecond=0)
    tiles = []
    moment = day + timedelta(days=29)
    while moment - timedelta(days=29) <= as_of:
        tiles.append(moment)
        moment += timedelta(days=30)
    return tiles


def audit(
    scenario: str,
    base_url: str,
    accepted: Sequence,
    as_of: datetime,
    deliveries: int | None = None,
    grid: BucketGrid | None = None,
    keep: bool = True,
) -> Audit:
    """Compare a worker's answers with a recomputation over ``accepted`` (typed, arrival order).

    ``keep``: ``record`` it (session summary, stdout, ``VERDICTS_LOG``).
    """
    grid = grid or BucketGrid("UTC")
    store = recompute(accepted, grid)
    result = Audit(
        scenario,
        accepted=len({e.event_id for e in accepted}),
        deliveries=len(accepted) if deliveries is None else deliveries,
        as_of=as_of,
    )
    with httpx.Client(base_url=base_url, timeout=15) as client:
        expected = store.report_all(as_of)
        for key, want in expected.items():
            status, got = _read(client, key, as_of)
            result.compared += 1
            if status != 200:
                result.mismatches.append(f"{key}: HTTP {status} {got}")
                continue
            result.mismatches += [f"{key} {p}" for p in kpi_mismatches(got, want)]
        first = min(e.occurred_at for e in accepted)
        scope_keys = sorted({key.rsplit("|", 1)[0] for key in _all_reported(store, first, as_of)})
        for tile in ledger_tiles(first, as_of):
            wanted = store.report_all(tile)
            for scope_key in scope_keys:
                want = wanted.get(f"{scope_key}|{LEDGER_WINDOW}", {})
                status, got = _read(client, f"{scope_key}|{LEDGER_WINDOW}", tile)
                if status == 404:
                    got = {}
                elif status != 200:
                    result.mismatches.append(f"{scope_key}|{LEDGER_WINDOW}@{tile}: HTTP {status}")
                    continue
                ledger = result.ledgers.setdefault(scope_key.split("|")[0], ScopeLedger())
                for name in LEDGER_KPIS:
                    w, g = int(want.get(name, 0)), int(got.get(name, 0))
                    ledger.expected += w
                    ledger.counted += g
                    ledger.lost += max(0, w - g)
                    ledger.double_counted += max(0, g - w)
    if keep:
        record(result)
    return result


def _all_reported(store, first: datetime, as_of: datetime) -> set[str]:
    keys: set[str] = set()
    for tile in ledger_tiles(first, as_of):
        keys |= set(store.report_all(tile))
    return keys | set(store.report_all(as_of))


def _read(client: httpx.Client, key: str, as_of: datetime) -> tuple[int, dict]:
    scope, scope_id, window = key.split("|")
    params = {"scope": scope, "id": scope_id, "window": window, "as_of": render_instant(as_of)}
    try:
        response = _asked_again(lambda: client.get("/v1/kpis", params=params))
    except httpx.TransportError as exc:
        return 599, {"error": repr(exc)}
    body = response.json()
    return response.status_code, body.get("kpis", body)


def _asked_again(ask: Callable[[], httpx.Response]) -> httpx.Response:
    """``ask`` up to ``READ_ATTEMPTS`` times, half a second apart, while the worker is unreachable
    or answers 503 (its owner rebalancing); then its last answer, or its last error raised.

    Counted in attempts, not seconds: an attempt that ends in the client's own timeout is still
    one attempt, so a slow worker gets as many chances as a refusing one."""
    retrying = Retrying(
        stop=stop_after_attempt(READ_ATTEMPTS),
        wait=wait_fixed(0.5),
        retry=retry_if_exception_type(httpx.TransportError)
        | retry_if_result(lambda response: response.status_code == 503),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    return retrying(ask)


def settled_audit(
    scenario: str,
    base_url: str,
    accepted: Sequence,
    as_of: datetime,
    deliveries: int | None = None,
    settle_s: float = 6,
    facts: dict | None = None,
) -> Audit:
    """``audit`` again for up to ``settle_s`` while it is not exact (reads lag commits a little);
    the last one is recorded and printed, with the scenario's ``facts``."""

    def once() -> Audit:
        result = audit(scenario, base_url, accepted, as_of, deliveries, keep=False)
        result.facts.update(facts or {})
        return result

    result = poll(once, settle_s, 2, until=lambda result: result.exact)
    record(result)
    return result
