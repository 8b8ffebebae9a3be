"""How every tool prints: exit codes, cells as text, rows as JSON or CSV (pure functions).

Rows are lists of plain values; ``None`` is an absent value (a ratio with a zero denominator): an
empty cell in a table or CSV, ``null`` in JSON. Tables are drawn by rich, with colour only on a
terminal (``streams.tools.console``).

Ids, reasons and peers' messages are untrusted (anyone who can produce an event chooses its ids),
so each format is made safe for where it is read:

- table and messages: characters a terminal would act on (C0, DEL, C1: escape sequences, carriage
  return, bell; bidi overrides, zero-width and other format characters; line separators) are shown
  escaped, ``\\x1b`` for ESC, so an id can neither clear the screen nor fake a link or a line;
- CSV: the same, and a text cell a spreadsheet would take for a formula (``=``, ``+``, ``-``,
  ``@``, TAB, CR, ...) starts with a single quote (OWASP's CSV injection advice); numbers stay
  numbers, so a -3.5 KPI is still -3.5;
- JSON: exact. Every value parses back unchanged; the characters above are written as ``\\uXXXX``
  escapes (orjson leaves DEL, C1 and format characters raw), so printing JSON is safe too.

JSON is the format to use when the exact text matters; table and CSV are for people and
spreadsheets.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
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

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Unicode categories never written raw to a terminal: controls (C0, DEL, C1), format characters
(bidi overrides, zero-width), lone surrogates, line and paragraph separators."""

FORMULA_STARTS = (
    *("=", "+", "-", "@", "\t", "\r", "\n", "\0"),
    *("\uff1d", "\uff0b", "\uff0d", "\uff20"),  # full-width = + - @
)
"""First characters that make a spreadsheet read a CSV cell as a formula (with full-width forms)."""

_SHORT_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")
_NOT_PLAIN_NOR_NEWLINE = re.compile(r"[^\x20-\x7e\n]")


def _is_unsafe(char: str) -> bool:
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def _shown_escaped(match: re.Match[str]) -> str:
    char = match.group()
    if not _is_unsafe(char):
        return char
    code = ord(char)
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_text(text: str) -> str:
    """``text`` with every character a terminal would act on shown escaped (``\\x1b``, ``\\n``).

    Printable text, non-ASCII letters included, is unchanged; the result is printable, and
    escaping it again changes nothing. A backslash is left as is.
    """
    return _NOT_PLAIN.sub(_shown_escaped, text)


def terminal_lines(text: str) -> str:
    """Like ``terminal_text`` but keeps line breaks: for text made of lines we wrote ourselves."""
    return _NOT_PLAIN_NOR_NEWLINE.sub(_shown_escaped, text)


def cell_text(value: Cell) -> str:
    """A value as text: absent is empty, floats without a trailing float-noise tail."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return str(value)


def csv_cell(value: Cell) -> str:
    """A CSV cell a spreadsheet shows as the text it is: formulas and controls neutralised."""
    text = cell_text(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        text = "'" + text
    return terminal_text(text)


def render_csv(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(name) for name in columns])
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def _json_escaped(match: re.Match[str]) -> str:
    char = match.group()
    if not _is_unsafe(char):
        return char
    units = char.encode("utf-16-be", errors="surrogatepass")
    return "".join(f"\\u{int.from_bytes(units[i : i + 2]):04x}" for i in range(0, len(units), 2))


def render_document(value: object) -> str:
    """Any JSON value, indented; characters a terminal would act on written as ``\\uXXXX``.

    orjson escapes C0 itself; the rest can only occur inside strings, where an escape means the
    same character, so the document parses back to exactly ``value``.
    """
    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return _NOT_PLAIN_NOR_NEWLINE.sub(_json_escaped, text)


def render_json(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A JSON array of objects, one per row, keys in column order (absent values are null)."""
    return render_document([dict(zip(columns, row, strict=True)) for row in rows])
