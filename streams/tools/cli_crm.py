"""``salespulse crm sync``: publish the current state of the deals a CRM changed since T.

Webhooks get lost (a vendor gives up retrying, an endpoint was down for a day, a subscription was
missing). A sync asks the CRM's API for every deal modified since T and publishes its state as
native events whose ids come from that state (``events.crm.deal_ids``): the creations and the
status changes the webhooks already delivered at the same instants are repeats the workers drop,
the rest restates the state the webhooks built (docs/CRM.md, "Same facts, same ids"), so a sync
after the webhooks, or twice, changes no KPI, and a sync alone gives the KPIs the webhooks would.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from events._fields import parse_rfc3339
from events.crm.deal_records import DealBatch
from events.crm.deal_source import VendorError, VendorRefused
from events.crm.mapping import MappingError, load_mapping
from events.crm.sources import SourceNotConfigured, deal_source
from events.currency import RatesError
from events.errors import Unavailable, exit_code
from events.http_edge import Refusal, validate_all
from events.models import EventPolicy
from events.policy import event_policy
from events.publisher import BrokerUnavailable, EventPublisher, Outgoing
from events.settings import Settings
from events.topics import TopicNames
from streams.tools.console import fail, fail_for, note, progress, say, warn
from streams.tools.output import Exit

crm_cli = typer.Typer(help="Reconcile with a CRM's API.", no_args_is_help=True)

_DURATION = re.compile(r"(\d{1,6})([smhd])", re.ASCII)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
OVERLAP = timedelta(minutes=2)
"""A periodic run starts this long before the previous one did: a CRM's modification times are
not perfectly ordered with its API's answers, and repeats cost nothing (same ids)."""


class Crm(StrEnum):
    hubspot = "hubspot"
    pipedrive = "pipedrive"
    salesforce = "salesforce"


def parse_duration(text: str) -> timedelta | None:
    """``90s``, ``15m``, ``1h``, ``7d``; None when ``text`` is none of these."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) == 0:
        return None
    return timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])


def parse_since(text: str, now: datetime) -> datetime | None:
    """An RFC 3339 instant, or a duration back from ``now`` (``24h``, ``7d``)."""
    ago = parse_duration(text)
    return now - ago if ago is not None else parse_rfc3339(text.strip())


@dataclass
class SyncReport:
    deals: int = 0
    published: int = 0
    repeated: int = 0
    refused: dict[str, list[str]] = field(default_factory=dict)

    def line(self, crm: str, since: datetime) -> str:
        return (
            f"{crm}: {self.deals} deals modified since {since.isoformat()}; published "
            f"{self.published} events ({self.repeated} repeated in this run); "
            f"refused {len(self.refused)} deals"
        )


def plan_page(
    batch: DealBatch, policy: EventPolicy, names: TopicNames, seen: set[str], report: SyncReport
) -> list[Outgoing]:
    """The records of one page, validated per deal as POST /v1/events validates a request.

    A deal is all or nothing (its created/updated/won events belong together); a refused deal
    is counted with its reasons and the others are published.
    """
    outgoing = []
    for deal_id, reason in batch.refused.items():
        report.refused[deal_id] = [reason]
    for deal_id, events in batch.events.items():
        report.deals += 1
        fresh = [event for event in events if event["event_id"] not in seen]
        report.repeated += len(events) - len(fresh)
        try:
            records = validate_all(fresh, policy, names)
        except Refusal as exc:
            invalid = exc.extra.get("invalid", [])
            report.refused[deal_id] = [r for item in invalid for r in item["reasons"]]
            continue
        seen.update(event["event_id"] for event in fresh)
        outgoing += records
    return outgoing


async def sync_once(
    source, publisher: EventPublisher, policy: EventPolicy, names: TopicNames, since: datetime
) -> SyncReport:
    """One pass over the deals modified since ``since``, published page by page (acks=all)."""
    report, seen = SyncReport(), set()
    with progress("deals") as bar:
        task = bar.add_task(f"{source.vendor} since {since:%Y-%m-%d %H:%M}", total=None)
        async for batch in source.modified_since(since):
            outgoing = plan_page(batch, policy, names, seen, report)
            if outgoing:
                await publisher.publish(outgoing)
            report.published += len(outgoing)
            bar.advance(task, len(batch.events) + len(batch.refused))
    return report


@crm_cli.command("sync")
def sync(
    crm: Annotated[Crm, typer.Option("--crm", help="The CRM to read.")],
    since: Annotated[
        str, typer.Option(help="RFC 3339 instant, or a duration back from now: 24h, 7d.")
    ],
    every: Annotated[
        str | None,
        typer.Option(help="Repeat every DURATION (e.g. 15m) until interrupted."),
    ] = None,
    crm_mapping: Annotated[
        Path | None, typer.Option(help="CRM mapping file; default: the configured one.")
    ] = None,
) -> None:
    """Publish the state of the deals the CRM modified since T, with the webhooks' event ids.

    A sync after the webhooks, or twice, changes no KPI. Refused deals (e.g. a currency without
    a rate) are listed and skipped; the others are published.

    Exit codes: 0 synced, 1 some deals refused, 2 bad options or configuration (including a
    token the CRM refuses), 3 the CRM or the broker unavailable.
    """
    settings = Settings()
    now = datetime.now(UTC)
    start = parse_since(since, now)
    period = parse_duration(every) if every is not None else None
    if start is None:
        fail(f"--since {since!r}: expected an RFC 3339 instant or a duration like 24h", Exit.USAGE)
    if every is not None and period is None:
        fail(f"--every {every!r}: expected a duration like 15m", Exit.USAGE)
    try:
        policy = event_policy(settings)
        mapping = load_mapping(crm_mapping or settings.crm_mapping_file)
        source = deal_source(crm.value, settings, mapping)
    except (RatesError, MappingError, SourceNotConfigured) as exc:
        fail_for(exc)
    try:
        code = asyncio.run(_run(settings, source, policy, start, period))
    except KeyboardInterrupt:
        note("interrupted")
        code = Exit.OK
    raise typer.Exit(int(code))


async def _run(settings, source, policy, start: datetime, period: timedelta | None) -> Exit:
    names = TopicNames(settings.topic_prefix)
    publisher = EventPublisher.from_settings(settings)
    try:
        return await repeat(
            lambda since: _pass(source, publisher, policy, names, since), start, period
        )
    finally:
        await publisher.close()
        await source.close()


async def repeat(
    run_pass: Callable[[datetime], Awaitable[Exit]],
    start: datetime,
    period: timedelta | None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Exit:
    """One pass from ``start``, or with a ``period`` passes until interrupted.

    The window moves forward only after a pass that succeeded (exit 0 or 1): a pass that failed
    (CRM or broker unavailable, a refused token) leaves its window to the next one, so that
    nothing modified during it is skipped.
    """
    while True:
        began = clock()
        code = await run_pass(start)
        if period is None:
            return code
        if code in (Exit.OK, Exit.FINDINGS):
            start = began - OVERLAP
        await sleep(period.total_seconds())


async def _pass(source, publisher, policy, names, since: datetime) -> Exit:
    try:
        report = await sync_once(source, publisher, policy, names, since)
    except VendorRefused as exc:
        warn(str(exc))
        return Exit(exit_code(exc))
    except (VendorError, BrokerUnavailable) as exc:  # RecordTooLarge too: its window stays
        warn(f"{exc} (events already published stay; re-running the sync is safe)")
        return Exit(Unavailable.exit_code)
    for deal_id, reasons in sorted(report.refused.items()):
        warn(f"refused {deal_id}: {'; '.join(reasons)}")
    say(report.line(source.vendor, since))
    return Exit.FINDINGS if report.refused else Exit.OK
