"""Fixtures of the deploy files' tests."""

from __future__ import annotations

import pytest

from tests.support.prometheus import prometheus_binary


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool judges rules, scrape configs and every dashboard query; installed once (apt)
    when the machine lacks it."""
    return prometheus_binary("promtool")
