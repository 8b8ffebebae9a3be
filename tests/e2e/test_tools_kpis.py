"""``salespulse kpis`` against a live worker fed the golden data."""

from __future__ import annotations

import asyncio
import csv
import io

import httpx
import orjson
import pytest

from events.topics import TopicNames
from tests.support.cli import run_cli
from tests.support.golden import golden_expected, golden_messages
from tests.support.kafka import produce_raw
from tests.support.kpis import compare_all, eventually, kpi_mismatches, vocabulary

pytestmark = pytest.mark.e2e


GOLDEN_STACK = pytest.mark.stack(name="golden", workers=2, ingest=False)
"""The mark of the tests that read the two-worker stack fed the golden log (golden_stack)."""


@pytest.fixture(scope="module")
def golden_stack(stacks_ahead):
    """A two-worker stack that has folded the whole golden log, shared by the module's tests,
    which only read it (a stack and its fold per test cost most of their time): ``kpis`` may ask
    either worker, each answers every key (the last test checks it)."""
    stack = stacks_ahead.get(GOLDEN_STACK.mark.kwargs["name"])
    asyncio.run(produce_raw(stack.bootstrap, golden_messages(TopicNames(stack.prefix))))
    expected = golden_expected()
    for worker in stack.workers:
        check = lambda w=worker: compare_all(w.url, expected["kpis"], expected["as_of"])  # noqa: E731
        assert eventually(check) == []
    return stack


def expected_for(scope: str, window: str) -> dict[str, dict]:
    return {
        key.split("|")[1]: kpis
        for key, kpis in golden_expected()["kpis"].items()
        if key.startswith(f"{scope}|") and key.endswith(f"|{window}")
    }


@GOLDEN_STACK
def test_kpis_as_json_lists_every_team_ranked_by_revenue_with_the_golden_values(golden_stack):
    as_of = golden_expected()["as_of"]
    result = run_cli(
        golden_stack, "kpis", "--scope", "team", "--window", "30d", "--as-of", as_of,
        "--format", "json", "--worker-url", golden_stack.workers[0].url,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    rows = orjson.loads(result.stdout)
    want = expected_for("team", "30d")
    assert sorted(row["id"] for row in rows) == sorted(want)
    revenues = [row["revenue"] for row in rows]
    assert revenues == sorted(revenues, reverse=True)
    names = vocabulary(golden_expected()["kpis"])  # a v1 file: v2's KPIs are not in it
    for row in rows:
        got = {name: value for name, value in row.items() if name in names}
        got = {name: value for name, value in got.items() if value is not None}
        assert kpi_mismatches(got, want[row["id"]]) == []


@GOLDEN_STACK
@pytest.mark.parametrize(("fmt", "scope"), [("csv", "rep"), ("table", "channel")])
def test_kpis_as_csv_or_table_has_one_line_per_known_id(golden_stack, fmt, scope):
    result = run_cli(
        golden_stack, "kpis", "--scope", scope, "--window", "qtd", "--sort", "opportunities",
        "--as-of", golden_expected()["as_of"], "--format", fmt,
        "--worker-url", golden_stack.workers[0].url,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    want = expected_for(scope, "qtd")
    if fmt == "csv":
        table = list(csv.DictReader(io.StringIO(result.stdout)))
        assert {row["id"]: int(row["opportunities"]) for row in table} == {
            scope_id: kpis["opportunities"] for scope_id, kpis in want.items()
        }
    else:
        lines = result.stdout.splitlines()
        assert lines[0].split()[:3] == ["rank", "id", "revenue"]
        assert sorted(line.split()[1] for line in lines[2:]) == sorted(want)


def test_kpis_with_an_unreachable_worker_exits_3_and_a_bad_window_exits_2():
    unreachable = run_cli(None, "kpis", "--worker-url", "http://127.0.0.1:9")
    bad_window = run_cli(None, "kpis", "--window", "2w")

    assert (unreachable.returncode, bad_window.returncode) == (3, 2)
    assert "error:" in unreachable.stderr
    assert "--window" in bad_window.stderr


@GOLDEN_STACK
def test_each_of_two_workers_lists_every_key_of_both_and_kpis_ranks_them_all(golden_stack):
    stack = golden_stack
    expected = golden_expected()
    for worker in stack.workers:
        check = lambda w=worker: compare_all(w.url, expected["kpis"], expected["as_of"])  # noqa: E731
        assert eventually(check) == []
    teams = sorted(expected_for("team", "30d"))

    listings = [
        httpx.get(f"{w.url}/v1/keys", params={"scope": "team"}, timeout=10).json()
        for w in stack.workers
    ]
    ranked = run_cli(
        stack, "kpis", "--scope", "rep", "--window", "qtd", "--as-of", expected["as_of"],
        "--format", "json", "--worker-url", stack.workers[1].url,
    )  # fmt: skip

    for listing in listings:
        assert listing["complete"] is True
        assert [item["id"] for item in listing["keys"]] == teams
    assert ranked.returncode == 0, ranked.stderr
    assert sorted(row["id"] for row in orjson.loads(ranked.stdout)) == sorted(
        expected_for("rep", "qtd")
    )
