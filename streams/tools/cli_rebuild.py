"""``salespulse rebuild verify|compare|status``: recompute from the log, compare, catch up."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

import typer
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from events.currency import RatesError
from events.kafka_security import kafka_client_options
from events.policy import event_policy
from events.settings import Settings
from events.timestamps import parse_rfc3339
from events.topics import TopicNames
from projections.effects import scope_key
from projections.query import render_instant
from projections.timebase import BucketGrid
from projections.windows import WINDOWS
from streams.catch_up import group_topics
from streams.tools.cli_kpis import DEFAULT_WORKER_URL
from streams.tools.console import fail, fail_for, note, print_rows, progress, say, warn
from streams.tools.kafka_io import KafkaToolError, group_lag, read_snapshot
from streams.tools.output import Exit, Format
from streams.tools.rebuild import DIFF_COLUMNS, kpi_differences, offline_kpis, recompute_log
from streams.tools.worker_api import UnknownKey, WorkerApi, WorkerUnavailable

rebuild_cli = typer.Typer(
    help="Recompute KPIs from the start of the log and check them against the workers.",
    no_args_is_help=True,
)

AsOf = Annotated[
    str | None, typer.Option(help="RFC 3339 instant the windows end at; default: now.")
]
FormatOption = Annotated[Format, typer.Option("--format", help="Format of the differences.")]
LAG_POLL_S = 2.0


def _as_of(raw: str | None) -> datetime:
    if raw is None:
        return datetime.now(UTC)
    moment = parse_rfc3339(raw)
    if moment is None:
        fail("--as-of: must be an RFC 3339 timestamp with an offset", Exit.USAGE)
    return moment


def _api(url: str) -> WorkerApi:
    token = Settings().worker_read_token
    return WorkerApi(url, token.get_secret_value() if token else None)


def _live_kpis(api: WorkerApi, keys: Iterable[str], as_of: datetime, label: str) -> dict:
    """Every window of ``keys`` as the workers answer it (a 404 counts as no contribution)."""
    wanted = [(key, window) for key in sorted(keys) for window in WINDOWS]
    answers = {}
    with progress("reads") as bar:
        task = bar.add_task(f"reading {label}", total=len(wanted))
        for key, window in wanted:
            scope, _, scope_id = key.partition("|")
            try:
                answer = api.kpis(scope, scope_id, window, render_instant(as_of))
                answers[f"{key}|{window}"] = answer["kpis"]
            except UnknownKey:
                pass
            bar.advance(task)
    return answers


def _known_keys(api: WorkerApi) -> set[str]:
    pairs, complete = api.keys()
    if not complete:
        warn(f"some worker behind {api.base_url} did not answer: keys may be missing")
    return {scope_key(scope, scope_id) for scope, scope_id in pairs}


def _report(differences: list[list], fmt: Format, compared: int) -> None:
    if differences:
        print_rows(fmt, DIFF_COLUMNS, differences)
        note(f"{len(differences)} difference(s) in {compared} (key, window) pairs")
        raise typer.Exit(Exit.FINDINGS)
    say(f"no difference in {compared} (key, window) pairs")


@rebuild_cli.command("verify")
def verify(
    worker_url: Annotated[str, typer.Option(help="Any live worker's base URL.")] = (
        DEFAULT_WORKER_URL
    ),
    as_of: AsOf = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Replay the whole log offline into fresh state and compare every KPI with the workers.

    Reads the three event topics from their start up to their current end (progress shown),
    recomputes every (scope, id) with the deployment's settings (time zone, rates), then reads
    the same (scope, id, window)s from the workers. Run it at a quiet moment: events that arrive
    during the check are seen by the workers only. "left" is the recomputation, "right" the
    workers.

    Exit codes: 0 no difference, 1 differences, 2 bad options, 3 broker or workers unreachable.
    """
    moment = _as_of(as_of)
    settings = Settings()
    names = TopicNames(settings.topic_prefix)
    try:
        policy = event_policy(settings)
    except RatesError as exc:
        fail_for(exc)
    with progress("records") as bar:
        task = bar.add_task("reading the log", total=None)
        try:
            records = asyncio.run(
                read_snapshot(
                    settings.bootstrap_servers,
                    list(names.event_topics),
                    lambda done, total: bar.update(task, completed=done, total=total),
                    kafka_client_options(settings),
                )
            )
        except KafkaToolError as exc:
            fail_for(exc)
    store, skipped = recompute_log(records, policy, names, BucketGrid(settings.time_zone))
    note(
        f"recomputed {len(store.keys())} keys from {len(records)} records"
        + (f" ({sum(skipped.values())} invalid, skipped)" if skipped else "")
    )
    with _api(worker_url) as api:
        try:
            keys = store.keys() | _known_keys(api)
            live = _live_kpis(api, keys, moment, "the workers")
        except WorkerUnavailable as exc:
            fail_for(exc)
    _report(kpi_differences(offline_kpis(store, keys, moment), live), fmt, len(keys) * 6)


@rebuild_cli.command("compare")
def compare(
    old: Annotated[str, typer.Option(help="A worker of the running generation.")],
    new: Annotated[str, typer.Option(help="A worker of the rebuilt generation.")],
    as_of: AsOf = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Compare every (scope, id, window) of two worker generations over HTTP before a switch.

    "left" is the old generation, "right" the new one.

    Exit codes: 0 no difference, 1 differences, 2 bad options, 3 workers unreachable.
    """
    moment = _as_of(as_of)
    with _api(old) as old_api, _api(new) as new_api:
        try:
            keys = _known_keys(old_api) | _known_keys(new_api)
            left = _live_kpis(old_api, keys, moment, "old generation")
            right = _live_kpis(new_api, keys, moment, "new generation")
        except WorkerUnavailable as exc:
            fail_for(exc)
    _report(kpi_differences(left, right), fmt, len(keys) * 6)


@rebuild_cli.command("status")
def status(
    generation: Annotated[
        str, typer.Option(help="Table generation to check ('' for the original one).")
    ],
    wait: Annotated[bool, typer.Option(help="Wait until it has caught up.")] = False,
    timeout_s: Annotated[float, typer.Option(help="Longest wait, seconds.")] = 3600.0,
) -> None:
    """How far a worker generation is behind the log (uncommitted records per topic).

    A generation has caught up when its consumer group has committed every record of the event
    topics and of its own internal topics. Only then compare and switch readers over.

    Exit codes: 0 caught up, 1 still behind, 3 broker unreachable.
    """
    settings = Settings(table_generation=generation)
    lag = _lag_until_caught_up(settings, timeout_s if wait else 0)
    rows = [[topic, count] for topic, count in lag.items()]
    print_rows(Format.table, ["topic", "behind"], rows)
    if sum(lag.values()):
        raise typer.Exit(Exit.FINDINGS)
    say(f"generation {generation or '(original)'} has caught up")


def _lag_until_caught_up(settings: Settings, timeout_s: float) -> dict[str, int]:
    """The group's lag per topic, read again every ``LAG_POLL_S`` (a progress bar shows it) until
    it is zero or ``timeout_s`` is up; with 0, read once. The last reading either way: a
    generation still behind is a finding to report, not an error."""
    topics, options = group_topics(settings), kafka_client_options(settings)
    with progress("records") as bar:
        task = bar.add_task(f"catching up: {settings.app_id}", total=None)
        most = 0

        def read() -> dict[str, int]:
            nonlocal most
            lag = _group_lag(settings, topics, options)
            behind = sum(lag.values())
            most = max(most, behind, 1)
            bar.update(task, total=most, completed=most - behind)
            return lag

        retrying = Retrying(
            stop=stop_after_delay(timeout_s),
            wait=wait_fixed(LAG_POLL_S),
            retry=retry_if_result(lambda lag: sum(lag.values()) > 0),
            retry_error_callback=lambda state: state.outcome.result(),
        )
        return retrying(read)


def _group_lag(settings: Settings, topics: list[str], options) -> dict[str, int]:
    try:
        return asyncio.run(group_lag(settings.bootstrap_servers, settings.app_id, topics, options))
    except KafkaToolError as exc:
        fail_for(exc)
