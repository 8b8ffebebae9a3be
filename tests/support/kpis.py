"""Reading KPIs back over HTTP and comparing them the way the contract says (rel. tol. 1e-9)."""

from __future__ import annotations

import math
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.polling import poll


def kpi_mismatches(got: dict, want: dict) -> list[str]:
    """Human-readable differences between two KPI dicts; ratios must be absent where absent."""
    problems = []
    for name in sorted(set(got) | set(want)):
        if name not in got or name not in want:
            problems.append(f"{name}: got {got.get(name)!r}, want {want.get(name)!r}")
        elif not math.isclose(got[name], want[name], rel_tol=1e-9):
            problems.append(f"{name}: got {got[name]!r}, want {want[name]!r}")
    return problems


def fetch_kpis(
    base_url: str, key: str, as_of: str | None, client: httpx.Client | None = None
) -> tuple[int, dict]:
    """One key's KPIs; pass ``client`` when reading many (a new client per request builds a
    TLS context each time: ~30 ms, most of a golden comparison's time)."""
    scope, scope_id, window = key.split("|")
    params = {"scope": scope, "id": scope_id, "window": window}
    if as_of:
        params["as_of"] = as_of
    get = client.get if client is not None else httpx.get
    response = get(f"{base_url}/v1/kpis", params=params, timeout=10)
    body = response.json()
    return response.status_code, body.get("kpis", body)


def subset_mismatches(base_url: str, expected: dict[str, dict], as_of: str) -> list[str]:
    """Problems where a KPI read at ``as_of`` differs from an expected subset of a key's KPIs
    (the others are not checked): what a webhook scenario pins down."""
    problems = []
    with httpx.Client() as client:
        for key, want in expected.items():
            status, got = fetch_kpis(base_url, key, as_of, client)
            if status != 200:
                problems.append(f"{key}: HTTP {status} {got}")
                continue
            problems += [
                f"{key} {name}: got {got.get(name)!r}, want {value!r}"
                for name, value in want.items()
                if got.get(name) != pytest.approx(value, rel=1e-9)
            ]
    return problems


def vocabulary(expected: dict[str, dict]) -> frozenset[str]:
    """Every KPI name an expectation file uses: a v1 golden file knows nothing of contract v2's
    KPIs, so those are left out of a comparison with it (its v1 ratios still must be absent
    where it has them absent)."""
    return frozenset(name for kpis in expected.values() for name in kpis)


def compare_all(base_url: str, expected: dict[str, dict], as_of: str | None) -> list[str]:
    problems = []
    names = vocabulary(expected)
    with httpx.Client() as client:
        for key, want in expected.items():
            status, got = fetch_kpis(base_url, key, as_of, client)
            if status != 200:
                problems.append(f"{key}: HTTP {status} {got}")
                continue
            known = {name: value for name, value in got.items() if name in names}
            problems += [f"{key} {p}" for p in kpi_mismatches(known, want)]
    return problems


def eventually(
    check: Callable[[], list[str]], timeout_s: float = 60, pause_s: float = 1
) -> list[str]:
    """Re-run ``check`` until it reports no problem or time is up; return the last problems."""
    return poll(check, timeout_s, pause_s, until=lambda problems: not problems)


def scrape_kpi_series(url: str) -> dict[tuple[str, str, str, str], float]:
    """``sales_*`` KPI samples of one worker's /metrics as (kpi, scope, id, window) -> value."""
    text = httpx.get(f"{url}/metrics", timeout=15).text
    series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("sales_") and "window" in sample.labels:
                labels = sample.labels
                key = (
                    sample.name.removeprefix("sales_"),
                    labels["scope"],
                    labels["id"],
                    labels["window"],
                )
                series[key] = sample.value
    return series


def events_processed(url: str) -> float:
    """Events a worker has folded so far (``salespulse_events_processed_total``, all labels)."""
    text = httpx.get(f"{url}/metrics", timeout=15).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "salespulse_events_processed_total"
    )
