"""Operator and analyst tools behind the ``salespulse`` subcommands (docs/OPERATIONS.md).

Each command is a thin typer function (``streams.tools.cli_*``) over pure logic (mapping,
reports, formatting) and small I/O helpers (HTTP to the workers, Kafka).
"""
