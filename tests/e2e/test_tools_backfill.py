"""``salespulse backfill`` into a live stack: the KPIs it gives, and a re-import changes nothing."""

from __future__ import annotations

import pytest

from tests.support.cli import run_cli
from tests.support.golden import REPO
from tests.support.kpis import events_processed, eventually, fetch_kpis

pytestmark = pytest.mark.e2e

EXPORTS = REPO / "tests" / "fixtures" / "exports"
AS_OF = "2026-02-14T15:20:00Z"
KEYS = ("team|team-north|mtd", "team|team-east|mtd", "company||mtd", "rep|rep-ana|30d")
EXPORT_EVENTS = 7


def snapshot(url: str) -> dict[str, dict]:
    return {key: fetch_kpis(url, key, AS_OF) for key in KEYS}


def test_a_hubspot_export_imported_twice_counts_once(make_rated_stack):
    stack, _ = make_rated_stack(
        "date,currency,rate\n2026-01-01,USD,0.9\n",
        SALESPULSE_CRM_MAPPING_FILE=str(EXPORTS / "backfill_crm_mapping.toml"),
    )
    url = stack.workers[0].url
    export = str(EXPORTS / "hubspot_deals.csv")

    dry = run_cli(stack, "backfill", export, "--format", "hubspot", "--dry-run", "--report", "csv")
    first = run_cli(stack, "backfill", export, "--format", "hubspot")

    assert dry.returncode == 0, dry.stderr
    assert "import,deal.created,4," in dry.stdout
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1].startswith(f"imported {EXPORT_EVENTS} events (4 deals)")
    want_north = {"opportunities": 3, "deals_won": 2, "deals_lost": 1, "revenue": 1450.5}

    def north_counted() -> list[str]:
        status, kpis = fetch_kpis(url, "team|team-north|mtd", AS_OF)
        got = {name: kpis.get(name) for name in want_north} if status == 200 else kpis
        return [] if got == want_north else [f"{status} {got}"]

    assert eventually(north_counted) == []
    assert eventually(lambda: [] if events_processed(url) >= EXPORT_EVENTS else ["pending"]) == []
    before = snapshot(url)
    assert before["team|team-east|mtd"][1]["opportunities"] == 1  # owner 42: default team

    second = run_cli(stack, "backfill", export, "--format", "hubspot")

    assert second.returncode == 0, second.stderr
    done = eventually(lambda: [] if events_processed(url) >= 2 * EXPORT_EVENTS else ["pending"])
    assert done == []
    assert snapshot(url) == before


@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry-run", "import"])
def test_a_csv_field_over_the_csv_limit_exits_2_with_a_message_and_no_traceback(tmp_path, dry_run):
    export = tmp_path / "deals.csv"
    header = (EXPORTS / "hubspot_deals.csv").read_text().splitlines()[0]
    export.write_text(f"{header}\n101," + "x" * 131_073 + "\n")

    # No broker is needed to refuse the file: an unreachable one proves nothing was sent.
    done = run_cli(
        None,
        "backfill",
        str(export),
        "--format",
        "hubspot",
        *dry_run,
        SALESPULSE_KAFKA_BOOTSTRAP="127.0.0.1:1",
    )

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "line 2: a field is longer than 131,072 characters, the CSV limit" in done.stderr
    assert "nothing imported" in done.stderr
