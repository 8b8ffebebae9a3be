"""``salespulse kpis``: reps, teams, channels or the company ranked by a KPI, from the workers."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from events.settings import Settings
from projections.effects import COMPANY, SCOPES, TEAM
from projections.windows import WINDOWS
from streams.tools.console import fail_for, print_rows, progress, warn
from streams.tools.kpi_report import ReportError, check_sort, ranked_rows
from streams.tools.output import Exit, Format
from streams.tools.worker_api import BadRequest, UnknownKey, WorkerApi, WorkerUnavailable

DEFAULT_WORKER_URL = "http://127.0.0.1:6066"

WorkerUrl = Annotated[
    str,
    typer.Option(
        help="Any worker's base URL (requests for keys it does not own are forwarded).",
        envvar="SALESPULSE_READ_URL",
    ),
]
FormatOption = Annotated[Format, typer.Option("--format", help="Output format.")]

# The contract's names as choices: typer refuses any other (exit 2) and lists them in --help.
Scope = StrEnum("Scope", {scope: scope for scope in SCOPES})
Window = StrEnum("Window", {window: window for window in WINDOWS})


def kpis(
    scope: Annotated[Scope, typer.Option(help="Scope of the KPIs: one row per id.")] = Scope[TEAM],
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="Only these ids (repeatable); default: every known one."),
    ] = None,
    window: Annotated[Window, typer.Option(help="Window the KPIs cover.")] = Window["30d"],
    as_of: Annotated[
        str | None, typer.Option(help="RFC 3339 instant the windows end at; default: now.")
    ] = None,
    sort: Annotated[str, typer.Option(help="KPI to rank by (highest first).")] = "revenue",
    ascending: Annotated[bool, typer.Option(help="Rank lowest first instead.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Show the first N rows only.")] = None,
    fmt: FormatOption = Format.table,
    worker_url: WorkerUrl = DEFAULT_WORKER_URL,
) -> None:
    """Print KPIs of every rep / team / channel (or the company), ranked by one KPI.

    Exit codes: 0 printed, 1 nothing to print, 2 bad options, 3 workers unreachable.
    """
    try:
        check_sort(scope.value, sort)
    except ReportError as exc:
        fail_for(exc)
    token = Settings().worker_read_token
    with WorkerApi(worker_url, token.get_secret_value() if token else None) as api:
        try:
            answers = _answers(api, scope.value, ids, window.value, as_of)
        except (BadRequest, WorkerUnavailable) as exc:
            fail_for(exc)
    columns, rows = ranked_rows(scope.value, answers, sort, ascending)
    rows = rows[:limit] if limit else rows
    if not rows:
        warn(f"no KPIs known for scope {scope.value}")
        raise typer.Exit(Exit.FINDINGS)
    print_rows(fmt, columns, rows)


def _answers(api: WorkerApi, scope: str, ids, window: str, as_of: str | None) -> list[dict]:
    if scope == COMPANY:
        wanted = [""]
    elif ids:
        wanted = list(dict.fromkeys(ids))
    else:
        pairs, complete = api.keys(scope)
        if not complete:
            warn("some worker did not answer: the list of keys may be incomplete")
        wanted = [scope_id for _, scope_id in pairs]
    answers = []
    with progress("reads") as bar:
        task = bar.add_task(f"reading {scope} KPIs", total=len(wanted))
        for scope_id in wanted:
            try:
                answers.append(api.kpis(scope, scope_id, window, as_of))
            except UnknownKey as exc:
                warn(str(exc))
            bar.advance(task)
    return answers
