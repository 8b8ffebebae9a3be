"""Terminal output of the tools: results on stdout, messages on stderr, colour only on a tty.

rich decides about colour (none when the stream is not a terminal, or with NO_COLOR set). What
the tools print carries untrusted text (ids, dead-letter reasons, peers' error messages), so the
consoles here never interpret it: no markup (``[red]``, ``[link=...]``), no emoji codes (``:100:``
would become an emoji inside an id), no highlighting, and control characters shown escaped
(``streams.tools.output.terminal_text``) whatever the caller passes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import NoReturn

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from events.errors import exit_code
from streams.tools.output import (
    Cell,
    Exit,
    Format,
    cell_text,
    render_csv,
    render_document,
    render_json,
    terminal_lines,
    terminal_text,
)

HEADER_RULE = box.Box(
    "    \n"
    "    \n"
    " -  \n"  # under the header: a rule of dashes per column, a space between columns
    "    \n"
    "    \n"
    "    \n"
    "    \n"
    "    \n",
    ascii=True,
)
"""A table's only line: a rule under each column's header (columns apart by spaces)."""
TABLE_WIDTH = 1 << 20
"""Width of the console a table is drawn on: wide enough that no row is ever wrapped nor cut."""


class LiteralConsole(Console):
    """A console that prints text literally, line breaks kept and nothing else a terminal acts on.

    Used for every tool output so that a caller forgetting ``markup=False`` or an escape cannot let
    an id drive the terminal.
    """

    def __init__(self, **options: object) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, soft_wrap=True, **options)

    def render_str(self, text: str, **options: object) -> Text:
        options.update(markup=False, emoji=False)
        return super().render_str(terminal_lines(text), **options)


def stdout() -> Console:
    return LiteralConsole()


def stderr() -> Console:
    return LiteralConsole(stderr=True)


def rows_table(columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Table:
    """Rows for people: one line each, numbers aligned right, every text shown literally."""
    table = Table(
        box=HEADER_RULE, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold"
    )
    for index, name in enumerate(columns):
        numeric = bool(rows) and all(
            isinstance(row[index], int | float) or row[index] is None for row in rows
        )
        justify = "right" if numeric else "left"
        table.add_column(Text(terminal_text(name)), justify=justify, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(terminal_text(cell_text(value))) for value in row))
    return table


def render(fmt: Format, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """Rows as text in ``fmt``: what ``print_rows`` prints, without colour."""
    if fmt is Format.json:
        return render_json(columns, rows)
    if fmt is Format.csv:
        return render_csv(columns, rows).rstrip("\n")
    console = LiteralConsole(file=io.StringIO(), width=TABLE_WIDTH, color_system=None)
    with console.capture() as captured:
        console.print(rows_table(columns, rows))
    return captured.get().rstrip("\n")


def print_rows(fmt: Format, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> None:
    """Rows on stdout in ``fmt``; a table's header in bold on a terminal."""
    if fmt is Format.table:
        LiteralConsole(width=TABLE_WIDTH).print(rows_table(columns, rows))
    else:
        stdout().print(render(fmt, columns, rows))


def print_document(value: object) -> None:
    """Any JSON value on stdout (``streams.tools.output.render_document``)."""
    stdout().print(render_document(value))


def say(message: str) -> None:
    """A one-line outcome on stdout (``re-injected 2``); untrusted parts shown escaped."""
    stdout().print(terminal_text(message))


def note(message: str) -> None:
    """A one-line remark on stderr (counts, what is about to happen)."""
    stderr().print(terminal_text(message))


def warn(message: str) -> None:
    stderr().print(f"warning: {terminal_text(message)}", style="yellow")


def fail(message: str, code: Exit) -> NoReturn:
    stderr().print(f"error: {terminal_text(message)}", style="red")
    raise typer.Exit(int(code))


def fail_for(error: BaseException, message: str | None = None) -> NoReturn:
    """``fail`` with the exit code of ``error``'s branch (``events.errors``), so that every tool
    ends alike on the same error; ``message`` says more than the error's own text."""
    fail(str(error) if message is None else message, Exit(exit_code(error)))


class DescriptionColumn(ProgressColumn):
    """The task's description as literal text (it may name a topic or a generation)."""

    def render(self, task: Task) -> Text:
        return Text(terminal_text(task.description))


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``1234 records/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} {self.unit}/s")


def progress(unit: str = "records") -> Progress:
    """A progress bar with count, rate and ETA, drawn on stderr (hidden when not a terminal)."""
    console = stderr()
    return Progress(
        DescriptionColumn(),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
