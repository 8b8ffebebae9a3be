"""Options that take one of a fixed set of names: typer refuses the others and lists the choices."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from projections.effects import SCOPES
from projections.windows import WINDOWS
from streams.cli import cli


@pytest.fixture(autouse=True)
def wide_plain_help(monkeypatch):
    """Help and usage errors on one wide, colourless screen, whatever the terminal."""
    monkeypatch.setenv("COLUMNS", "400")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("option", "args"),
    [
        ("--scope", ("kpis", "--scope", "region")),
        ("--scope", ("kpis", "--scope", "TEAM")),
        ("--window", ("kpis", "--window", "2w")),
        ("--format", ("kpis", "--format", "xml")),
        ("--format", ("dead-letters", "list", "--format", "yaml")),
        ("--format", ("backfill", "pyproject.toml", "--format", "zoho")),
        ("--report", ("backfill", "pyproject.toml", "--report", "html")),
        ("--format", ("rebuild", "compare", "--old", "a", "--new", "b", "--format", "xml")),
        ("--crm", ("crm", "sync", "--crm", "zoho", "--since", "1h")),
    ],
)
def test_a_name_outside_the_choices_is_a_usage_error_naming_the_option(option, args):
    result = invoke(*args)

    assert result.exit_code == 2
    assert "Invalid value" in result.stderr
    assert option in result.stderr


def test_kpis_help_lists_every_scope_and_window():
    result = invoke("kpis", "--help")

    assert result.exit_code == 0
    assert "|".join(SCOPES) in result.stdout
    assert "|".join(WINDOWS) in result.stdout
