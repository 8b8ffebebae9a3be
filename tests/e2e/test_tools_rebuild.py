"""``salespulse rebuild`` on a live stack fed the golden log: offline verify, a new generation."""

from __future__ import annotations

import asyncio

import pytest

from events.topics import TopicNames
from tests.support.cli import run_cli
from tests.support.golden import golden_expected, golden_messages
from tests.support.kafka import produce_raw
from tests.support.kpis import compare_all, eventually

pytestmark = pytest.mark.e2e


def test_a_rebuilt_generation_catches_up_matches_the_running_one_and_the_golden_data(make_stack):
    stack = make_stack(workers=1, ingest=False)
    expected = golden_expected()
    as_of = expected["as_of"]
    asyncio.run(produce_raw(stack.bootstrap, golden_messages(TopicNames(stack.prefix))))
    old = stack.workers[0]
    assert eventually(lambda: compare_all(old.url, expected["kpis"], as_of)) == []

    verified = run_cli(stack, "rebuild", "verify", "--worker-url", old.url, "--as-of", as_of)

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.strip().startswith("no difference in ")
    assert "8 invalid, skipped" in verified.stderr

    new = stack.start_worker(
        SALESPULSE_TABLE_GENERATION="g2", SALESPULSE_READY_AFTER_CATCH_UP="true"
    )  # ready only once its group has read the whole log: no half-built numbers
    assert compare_all(new.url, expected["kpis"], as_of) == []
    caught_up = run_cli(
        stack, "rebuild", "status", "--generation", "g2", "--wait", "--timeout-s", "240"
    )
    compared = run_cli(
        stack, "rebuild", "compare", "--old", old.url, "--new", new.url, "--as-of", as_of
    )

    assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
    assert "has caught up" in caught_up.stdout
    assert compared.returncode == 0, compared.stdout + compared.stderr
