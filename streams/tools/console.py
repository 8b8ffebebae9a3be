"""Terminal output of the tools: results on stdout, messages on stderr, colour only on a tty.

rich decides about colour (none when the stream is not a terminal, or with NO_COLOR set).
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from streams.tools.output import Exit, Format


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_rendered(fmt: Format, text: str) -> None:
    """A rendered result; a table's header line in bold on a terminal, data always plain."""
    console = stdout()
    if fmt is Format.table and "\n" in text:
        header, rest = text.split("\n", 1)
        console.print(header, style="bold", markup=False)
        console.print(rest, markup=False)
    else:
        console.print(text, markup=False)


def warn(message: str) -> None:
    stderr().print(f"warning: {message}", style="yellow", markup=False)


def fail(message: str, code: Exit) -> NoReturn:
    stderr().print(f"error: {message}", style="red", markup=False)
    raise typer.Exit(int(code))


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
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr(),
        disable=not stderr().is_terminal,
    )
