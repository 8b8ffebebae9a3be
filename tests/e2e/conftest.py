"""End-to-end fixtures: whole salespulse stacks (workers + ingest processes) on the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.stack import Stack, StackFactory


@pytest.fixture
def make_stack(kafka_bootstrap: str, topic_prefix: str, tmp_path) -> Iterator[Callable[..., Stack]]:
    """Factory: ``make_stack(workers=1, ingest=True, **stack_options)`` started and ready."""
    factory = StackFactory(lambda: kafka_bootstrap, topic_prefix, tmp_path)
    yield factory.build
    factory.stop_all()


@pytest.fixture
def make_rated_stack(make_stack, tmp_path) -> Callable[..., tuple[Stack, Path]]:
    """Factory: ``make_rated_stack(rates_csv, **env)``: a one-worker stack without ingest whose
    ``SALESPULSE_CURRENCY_RATES_FILE`` holds ``rates_csv``; returns the stack and the file (a test
    may rewrite it and restart the worker)."""

    def build(rates_csv: str, **env: str) -> tuple[Stack, Path]:
        rates = tmp_path / f"rates-{len(list(tmp_path.glob('rates-*.csv')))}.csv"
        rates.write_text(rates_csv)
        extra_env = {"SALESPULSE_CURRENCY_RATES_FILE": str(rates), **env}
        return make_stack(workers=1, ingest=False, extra_env=extra_env), rates

    return build
