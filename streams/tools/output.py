"""How every tool prints: exit codes, and rows as an aligned table, JSON or CSV (pure functions).

Rows are lists of plain values; ``None`` is an absent value (a ratio with a zero denominator): an
empty cell in a table or CSV, ``null`` in JSON. Colour is added by the caller only on a terminal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import IntEnum, StrEnum

import orjson


class Exit(IntEnum):
    """Exit codes shared by every ``salespulse`` tool (documented in docs/OPERATIONS.md)."""

    OK = 0
    FINDINGS = 1
    """The command ran and found something: differences, refused records, nothing matched."""
    USAGE = 2
    """Bad options or arguments (typer's own usage errors use 2 too)."""
    UNAVAILABLE = 3
    """A worker or the broker could not be reached or did not answer properly."""


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


Cell = str | int | float | None


def cell_text(value: Cell) -> str:
    """A value as text: absent is empty, floats without a trailing float-noise tail."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return str(value)


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[str]:
    """Aligned lines: a header, a rule and one line per row; numbers align right."""
    texts = [[cell_text(value) for value in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]
    widths = [max([len(name), *(len(row[i]) for row in texts)]) for i, name in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [line(columns), "  ".join("-" * width for width in widths), *map(line, texts)]


def render_csv(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell_text(value) for value in row] for row in rows)
    return buffer.getvalue()


def render_json(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A JSON array of objects, one per row, keys in column order (absent values are null)."""
    objects = [dict(zip(columns, row, strict=True)) for row in rows]
    return orjson.dumps(objects, option=orjson.OPT_INDENT_2).decode()


def render(fmt: Format, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    if fmt is Format.json:
        return render_json(columns, rows)
    if fmt is Format.csv:
        return render_csv(columns, rows).rstrip("\n")
    return "\n".join(render_table(columns, rows))
