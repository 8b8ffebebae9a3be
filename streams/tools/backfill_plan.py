"""Validate a whole export before publishing anything: what would be imported, what is refused.

Every native event passes the same gate as the ingest API (``validate_event`` with the
deployment's policy, rates included, then ``route``, then Kafka's size limit per message). A row
is all or nothing: if one of its events is invalid, none of them is imported. Events repeated
within the file are published once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from events.codec import encode_event
from events.models import Event, EventPolicy, InvalidEvent, validate_event
from events.publisher import Outgoing, oversize_reason
from events.topics import TopicNames, route
from streams.tools.backfill_rows import Row, RowRefused, RowSkipped

EXAMPLES = 5
"""Row numbers shown per refusal reason in a report."""


@dataclass
class ImportPlan:
    rows: int = 0
    outgoing: list[Outgoing] = field(default_factory=list)
    by_type: Counter = field(default_factory=Counter)
    refused: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    skipped: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    repeated: int = 0
    """Events of the file whose event_id an earlier row already gave (published once)."""
    deal_ids: set[str] = field(default_factory=set)

    @property
    def refused_rows(self) -> int:
        return len({n for rows in self.refused.values() for n in rows})


def plan_import(
    rows: Iterable[Row],
    events_of: Callable[[dict], list[dict]],
    policy: EventPolicy,
    names: TopicNames,
) -> ImportPlan:
    plan = ImportPlan()
    ids: set[str] = set()
    for number, row in rows:
        plan.rows += 1
        if isinstance(row, str):
            plan.refused[row].append(number)
            continue
        try:
            events = events_of(row)
        except RowSkipped as exc:
            plan.skipped[str(exc)].append(number)
            continue
        except RowRefused as exc:
            plan.refused[str(exc)].append(number)
            continue
        accepted, reasons = [], []
        for event in events:
            try:
                accepted.append(_storable(event, policy, names))
            except InvalidEvent as exc:
                reasons += exc.reasons
        if reasons:
            for reason in dict.fromkeys(reasons):
                plan.refused[reason].append(number)
            continue
        for typed, outgoing in accepted:
            if typed.event_id in ids:
                plan.repeated += 1
                continue
            ids.add(typed.event_id)
            plan.by_type[typed.type] += 1
            if typed.type.startswith("deal."):
                plan.deal_ids.add(typed.deal_id)
            plan.outgoing.append(outgoing)
    return plan


def _storable(event: dict, policy: EventPolicy, names: TopicNames) -> tuple[Event, Outgoing]:
    """The validated event and its record; InvalidEvent when invalid or too large for Kafka."""
    typed = validate_event(event, policy)
    topic, key = route(typed, names)
    try:
        record = Outgoing(topic, key, encode_event(event))
    except orjson.JSONEncodeError as exc:
        raise InvalidEvent([f"event: cannot be stored as JSON ({exc})"]) from None
    reason = oversize_reason(record)
    if reason is not None:
        raise InvalidEvent([reason])
    return typed, record


REPORT_COLUMNS = ["outcome", "what", "count", "rows"]


def report_rows(plan: ImportPlan) -> list[list]:
    """The dry-run report: events to import by type, then refusals and skips by reason."""
    rows: list[list] = [
        ["import", kind, count, None] for kind, count in sorted(plan.by_type.items())
    ]
    if plan.repeated:
        rows.append(["repeated", "same event_id earlier in the file", plan.repeated, None])
    for outcome, table in (("refused", plan.refused), ("skipped", plan.skipped)):
        for reason, numbers in sorted(table.items(), key=lambda item: (-len(item[1]), item[0])):
            shown = ", ".join(map(str, numbers[:EXAMPLES])) + (
                ", …" if len(numbers) > EXAMPLES else ""
            )
            rows.append([outcome, reason, len(numbers), shown])
    return rows
