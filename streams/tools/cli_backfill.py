"""``salespulse backfill``: import a CRM export (deals, calls) into the event log, idempotently."""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from events.crm.mapping import MappingError, load_mapping
from events.currency import RatesError
from events.policy import event_policy
from events.publisher import BrokerUnavailable, EventPublisher, Outgoing, RecordTooLarge
from events.settings import Settings
from events.topics import TopicNames
from streams.tools.backfill_mapping import ExportMappingError, load_export_mapping
from streams.tools.backfill_plan import REPORT_COLUMNS, ImportPlan, plan_import, report_rows
from streams.tools.backfill_rows import ExportUnreadable, RowMapper, read_rows
from streams.tools.console import fail, fail_for, print_rows, progress, stderr
from streams.tools.output import Exit, Format


class ExportFormat(StrEnum):
    native = "native"
    hubspot = "hubspot"
    pipedrive = "pipedrive"
    salesforce = "salesforce"


def backfill(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Export: .csv or .jsonl.")
    ],
    export_format: Annotated[
        ExportFormat,
        typer.Option("--format", help="native (JSON Lines of native events) or the CRM."),
    ] = ExportFormat.native,
    mapping: Annotated[
        Path | None,
        typer.Option(help="TOML/JSON column mapping overriding the CRM's defaults."),
    ] = None,
    crm_mapping: Annotated[
        Path | None,
        typer.Option(help="CRM mapping (owners, deal id prefixes); default: the configured one."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate and report; publish nothing.")] = False,
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the valid rows even when some are refused.")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Events per publish.")] = 500,
    report_format: Annotated[
        Format, typer.Option("--report", help="Format of the report.")
    ] = Format.table,
) -> None:
    """Validate a whole CRM export, then publish its events (acks=all) with progress.

    Event ids are derived from vendor, record id, stage and time, so importing the same export
    twice changes nothing. Every row is validated first; a refused row blocks the import unless
    --skip-invalid. Column defaults per CRM and the mapping file: docs/OPERATIONS.md.

    Exit codes: 0 imported (or a clean dry run), 1 rows refused (nothing published unless
    --skip-invalid; an event over Kafka's 1 MiB message limit refuses its row), 2 bad options
    or mapping, or an unreadable export (e.g. a CSV field over 131,072 characters), 3 broker
    unreachable.
    """
    settings = Settings()
    names = TopicNames(settings.topic_prefix)
    try:
        policy = event_policy(settings)
        events_of = _events_of(
            export_format, file, mapping, crm_mapping or settings.crm_mapping_file
        )
    except (RatesError, MappingError, ExportMappingError) as exc:
        fail_for(exc)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", Exit.USAGE)
    try:
        plan = plan_import(read_rows(text, file.suffix), events_of, policy, names)
    except ExportUnreadable as exc:
        fail_for(exc, f"cannot read {file}: {exc}; nothing imported")
    print_rows(report_format, REPORT_COLUMNS, report_rows(plan))
    stderr().print(_summary(plan, "would import" if dry_run else "to import"))
    if dry_run:
        raise typer.Exit(Exit.FINDINGS if plan.refused else Exit.OK)
    if plan.refused and not skip_invalid:
        fail(
            f"{plan.refused_rows} row(s) refused: nothing imported (fix them, or --skip-invalid)",
            Exit.FINDINGS,
        )
    try:
        asyncio.run(_publish(settings, plan.outgoing, batch))
    except RecordTooLarge as exc:  # the broker's limit is below the one checked per row
        fail_for(
            exc,
            f"the broker refused an event as too large ({exc}); events published before it "
            "stay, re-running the import after fixing the row is safe",
        )
    except BrokerUnavailable as exc:
        fail_for(exc, f"{exc} (events already published stay; re-running the import is safe)")
    typer.echo(_summary(plan, "imported"))


def _events_of(export_format: ExportFormat, file: Path, mapping, crm_mapping):
    if export_format is ExportFormat.native:
        if file.suffix.lower() == ".csv":
            raise ExportMappingError("--format native reads JSON Lines (.jsonl), not CSV")
        return lambda row: [row]
    columns = load_export_mapping(export_format.value, mapping)
    return RowMapper(export_format.value, columns, load_mapping(crm_mapping)).events_of


def _summary(plan: ImportPlan, verb: str) -> str:
    skipped = sum(len(rows) for rows in plan.skipped.values())
    return (
        f"{verb} {len(plan.outgoing)} events ({len(plan.deal_ids)} deals) from {plan.rows} rows; "
        f"refused {plan.refused_rows} rows, skipped {skipped}"
    )


async def _publish(settings: Settings, outgoing: list[Outgoing], batch: int) -> None:
    publisher = EventPublisher.from_settings(settings)
    try:
        with progress("events") as bar:
            task = bar.add_task("publishing", total=len(outgoing))
            for start in range(0, len(outgoing), batch):
                chunk = outgoing[start : start + batch]
                await publisher.publish(chunk)
                bar.advance(task, len(chunk))
    finally:
        await publisher.close()
