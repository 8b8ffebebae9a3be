"""``salespulse dead-letters list|show|reinject|purge``: act on the dead-letter topic."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer

from events.kafka_security import kafka_client_options
from events.publisher import BrokerUnavailable, EventPublisher
from events.settings import Settings
from events.timestamps import parse_rfc3339
from events.topics import TopicNames
from streams.tools.console import (
    fail,
    fail_for,
    note,
    print_document,
    print_rows,
    progress,
    say,
    warn,
)
from streams.tools.dead_letter_report import (
    LIST_COLUMNS,
    SUMMARY_COLUMNS,
    DeadLetter,
    Selection,
    detail,
    list_rows,
    parse_position,
    purge_plan,
    reinjection,
    select,
    summary_rows,
)
from streams.tools.kafka_io import (
    KafkaToolError,
    delete_before,
    offsets_at,
    read_dead_letters,
    watermarks,
)
from streams.tools.output import Exit, Format

dead_letters_cli = typer.Typer(
    help="Inspect, re-inject and purge dead letters (refused records, with their reason).",
    no_args_is_help=True,
)

Reason = Annotated[
    str | None, typer.Option(help="Only reasons containing this text (case-insensitive).")
]
Source = Annotated[
    str | None,
    typer.Option(help="Only from this source topic (with or without the topic prefix)."),
]
Since = Annotated[str | None, typer.Option(help="Only dead-lettered at or after (RFC 3339).")]
Until = Annotated[str | None, typer.Option(help="Only dead-lettered before (RFC 3339).")]
Positions = Annotated[
    list[str] | None,
    typer.Option("--position", help="Only this dead letter, PARTITION:OFFSET (repeatable)."),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _instant(option: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    moment = parse_rfc3339(raw)
    if moment is None:
        fail(f"{option}: must be an RFC 3339 timestamp with an offset", Exit.USAGE)
    return moment


def _selection(reason, source, since, until, positions) -> Selection:
    try:
        picked = frozenset(parse_position(text) for text in positions or ())
    except ValueError as exc:
        fail(f"--position: {exc}", Exit.USAGE)
    return Selection(reason, source, _instant("--since", since), _instant("--until", until), picked)


def _context() -> tuple[Settings, TopicNames]:
    settings = Settings()
    return settings, TopicNames(settings.topic_prefix)


def _read_all(settings: Settings, names: TopicNames) -> list[DeadLetter]:
    with progress("records") as bar:
        task = bar.add_task(f"reading {names.dead_letters}", total=None)
        try:
            return asyncio.run(
                read_dead_letters(
                    settings.bootstrap_servers,
                    names.dead_letters,
                    lambda done, total: bar.update(task, completed=done, total=total),
                    kafka_client_options(settings),
                )
            )
        except KafkaToolError as exc:
            fail_for(exc)


@dead_letters_cli.command("list")
def list_command(
    reason: Reason = None,
    source_topic: Source = None,
    since: Since = None,
    until: Until = None,
    positions: Positions = None,
    summary: Annotated[
        bool, typer.Option(help="Count by source topic and reason kind instead.")
    ] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Show the first N only.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """List dead letters (oldest first), or count them by reason with --summary.

    Exit codes: 0 some listed, 1 none matched, 2 bad options, 3 broker unreachable.
    """
    selection = _selection(reason, source_topic, since, until, positions)
    settings, names = _context()
    letters = select(_read_all(settings, names), selection, names)
    if not letters:
        warn("no dead letter matches")
        raise typer.Exit(Exit.FINDINGS)
    if summary:
        print_rows(fmt, SUMMARY_COLUMNS, summary_rows(letters))
    else:
        print_rows(fmt, LIST_COLUMNS, list_rows(letters[:limit]))


@dead_letters_cli.command("show")
def show_command(
    positions: Annotated[list[str], typer.Argument(help="PARTITION:OFFSET of dead letters.")],
) -> None:
    """Print dead letters whole, as JSON: reason, source, key and the original value.

    Exit codes: 0 all found, 1 some not found, 2 bad arguments, 3 broker unreachable.
    """
    selection = _selection(None, None, None, None, positions)
    settings, names = _context()
    letters = select(_read_all(settings, names), selection, names)
    found = {(letter.partition, letter.offset) for letter in letters}
    for missing in sorted(selection.positions - found):
        warn(f"no dead letter at {missing[0]}:{missing[1]}")
    print_document([detail(letter) for letter in letters])
    if selection.positions - found:
        raise typer.Exit(Exit.FINDINGS)


@dead_letters_cli.command("reinject")
def reinject_command(
    reason: Reason = None,
    source_topic: Source = None,
    since: Since = None,
    until: Until = None,
    positions: Positions = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every dead letter (when no filter is given).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Show what would be re-injected only.")] = False,
    yes: Yes = False,
) -> None:
    """Produce selected dead letters again onto their source topic, original key and bytes.

    Use it after a fix (a rate added, a worker upgraded): the workers validate them again, a
    valid one is counted, and a repeat is a duplicate (same event_id) and counts once. A CRM
    item goes back to the CRM deliveries topic, where ingest's interpreter maps it again (with
    the mapping and rates ingest has now: restart ingest after changing them). Each record
    carries a header x-salespulse-reinjected-from naming the dead letter. The dead letters stay
    where they are (purge them separately).

    Exit codes: 0 all re-injected, 1 none matched or some could not be, 2 bad options,
    3 broker unreachable.
    """
    selection = _selection(reason, source_topic, since, until, positions)
    if selection.is_everything and not everything:
        fail("give a filter (--reason, --position, …) or --all", Exit.USAGE)
    settings, names = _context()
    letters = select(_read_all(settings, names), selection, names)
    outgoing, refused = reinjection(letters, names, names.dead_letters)
    for position, why in refused.items():
        warn(f"{position}: not re-injected: {why}")
    if not outgoing:
        warn("nothing to re-inject")
        raise typer.Exit(Exit.FINDINGS)
    note(f"{len(outgoing)} dead letter(s) to re-inject onto their source topics")
    if dry_run:
        print_rows(Format.table, LIST_COLUMNS, list_rows(letters))
        raise typer.Exit(Exit.FINDINGS if refused else Exit.OK)
    if not yes:
        typer.confirm("Re-inject them?", abort=True)
    publisher = EventPublisher.from_settings(settings)

    async def publish() -> None:
        try:
            await publisher.publish(outgoing)
        finally:
            await publisher.close()

    try:
        asyncio.run(publish())
    except BrokerUnavailable as exc:  # RecordTooLarge, which no retry fixes, is a finding (1)
        fail_for(exc)
    say(f"re-injected {len(outgoing)}")
    raise typer.Exit(Exit.FINDINGS if refused else Exit.OK)


@dead_letters_cli.command("purge")
def purge_command(
    everything: Annotated[
        bool, typer.Option("--all", help="Every dead letter present now.")
    ] = False,
    before_time: Annotated[
        str | None, typer.Option(help="Every dead letter written before (RFC 3339).")
    ] = None,
    before: Annotated[
        list[str] | None,
        typer.Option(help="PARTITION:OFFSET: that partition's dead letters before it (repeat)."),
    ] = None,
    yes: Yes = False,
) -> None:
    """Delete dead letters for good (Kafka DeleteRecords): a prefix of each partition.

    Kafka can only delete the oldest records of a partition, up to an offset, so a purge takes
    every dead letter before a point (a time, offsets, or now), never a selection by reason:
    re-inject what must survive first. Partitions without --before are left alone.

    Exit codes: 0 purged, 1 nothing to purge, 2 bad options, 3 broker unreachable.
    """
    chosen = [everything, before_time is not None, bool(before)]
    if sum(chosen) != 1:
        fail("give exactly one of --all, --before-time, --before", Exit.USAGE)
    settings, names = _context()
    topic, options = names.dead_letters, kafka_client_options(settings)
    try:
        low, high = asyncio.run(watermarks(settings.bootstrap_servers, topic, options))
        cut: dict[int, int] | None = None
        if before_time is not None:
            moment = _instant("--before-time", before_time)
            cut = asyncio.run(offsets_at(settings.bootstrap_servers, topic, moment, options))
        elif before:
            try:
                cut = dict(parse_position(text) for text in before)
            except ValueError as exc:
                fail(f"--before: {exc}", Exit.USAGE)
        plan = purge_plan(low, high, cut)
        if not plan:
            warn("nothing to purge")
            raise typer.Exit(Exit.FINDINGS)
        rows = [[p, low[p], offset, offset - low[p]] for p, offset in sorted(plan.items())]
        print_rows(Format.table, ["partition", "from", "before", "records"], rows)
        if not yes:
            typer.confirm(f"Delete {sum(r[3] for r in rows)} dead letter(s) for good?", abort=True)
        asyncio.run(delete_before(settings.bootstrap_servers, topic, plan, options))
    except KafkaToolError as exc:
        fail_for(exc)
    say(f"purged {sum(r[3] for r in rows)}")
