"""One stored CRM delivery -> the records to publish: native events and dead letters.

Item by item: an item that maps to valid native events (validated exactly as POST /v1/events
validates them, currency included) is published; one that cannot becomes a dead letter whose
value is a delivery holding that item (with the other items of the same deal, which it may need:
a HubSpot creation takes its properties from them), so that re-injecting it after a fix
interprets it again. Items the product does not use are skipped and counted. Re-interpreting a
delivery is harmless: event ids come from the deals' state (``events.crm.deal_ids``).

A HubSpot webhook never carries a deal's whole state; with a ``DealSource`` for the vendor the
deals it names are asked from the vendor's API (one call per delivery), and the source's
complete events replace the webhook's. A deal whose current data the mapping refuses (a bad
amount, a probability out of scale) is a dead letter of that deal's items with the reason, like
any bad item; a deal the source no longer knows is skipped as deleted. ``VendorUnavailable`` is
left to the caller (retry the delivery later); ``VendorRefused`` falls back to the webhook's own
content.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import orjson

from events.crm.common import InvalidDelivery, ItemOutcome
from events.crm.deal_source import DealSource, VendorRefused
from events.crm.deliveries import RawDelivery, UnreadableDelivery, decode_delivery, encode_delivery
from events.crm.hubspot import hubspot_outcomes
from events.crm.mapping import CrmMapping
from events.crm.oversize import TOO_LARGE, Unit, fitting_letter
from events.crm.pipedrive import pipedrive_outcomes
from events.crm.salesforce import salesforce_outcomes
from events.crm.salesforce_soap import outbound_message, parse_outbound_message
from events.http_edge import outgoing_record
from events.models import EventPolicy, InvalidEvent
from events.publisher import Outgoing
from events.topics import DLQ_REASON, TopicNames

log = logging.getLogger(__name__)

ENRICHED_VENDORS = ("hubspot",)
"""Vendors whose webhooks name deals without their state: a deal source completes them."""
_LABEL = re.compile(r"[a-z_]{1,32}")


@dataclass(frozen=True)
class Origin:
    """Where the delivery was read: the source of its dead letters."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Context:
    mapping: CrmMapping
    policy: EventPolicy
    names: TopicNames
    zone: ZoneInfo
    sources: Mapping[str, DealSource] = field(default_factory=dict)


@dataclass
class Interpretation:
    """The records to publish for one delivery (in units, ``events.crm.oversize``), and the
    counts for the metrics."""

    vendor: str
    units: list[Unit] = field(default_factory=list)
    items: int = 0
    published: int = 0
    skipped: Counter = field(default_factory=Counter)
    dead_letters: Counter = field(default_factory=Counter)
    source_refused: bool = False

    @property
    def records(self) -> list[Outgoing]:
        return [record for unit in self.units for record in unit.records]


@dataclass(frozen=True)
class _Read:
    """A delivery read by its vendor's adapter: item outcomes and how to cut out some items."""

    outcomes: list[ItemOutcome]
    subset: Callable[[Sequence[int]], bytes]


async def interpret(
    key: bytes | None, value: bytes | None, origin: Origin, context: Context
) -> Interpretation:
    """The records for one record of the deliveries topic; raises only ``VendorUnavailable``."""
    try:
        delivery = decode_delivery(value)
    except UnreadableDelivery as exc:
        vendor = (key or b"").decode("utf-8", "replace") or "unknown"
        result = Interpretation(vendor if vendor in ("hubspot", "pipedrive", "salesforce") else "?")
        _dead_letter(result, Outgoing("", key, value or b""), str(exc), origin, context)
        return result
    result = Interpretation(delivery.vendor)
    try:
        read = _read(delivery, context)
    except InvalidDelivery as exc:
        _dead_letter(result, _delivery_letter(delivery, delivery.body), exc.reason, origin, context)
        return result
    result.items = len(read.outcomes)
    outcomes = await _enriched(delivery, read, result, origin, context)
    _settle(delivery, read, outcomes, result, origin, context)
    return result


def _read(delivery: RawDelivery, context: Context) -> _Read:
    """The vendor's item outcomes; InvalidDelivery when the body as a whole is unusable."""
    mapping = context.mapping
    if delivery.vendor == "salesforce":
        message = parse_outbound_message(delivery.body)
        outcomes = salesforce_outcomes(message, mapping, delivery.received_at, context.zone)
        notes = message.notifications
        return _Read(
            outcomes,
            lambda picked: outbound_message(message.organization_id, [notes[i] for i in picked]),
        )
    try:
        payload = orjson.loads(delivery.body)
    except orjson.JSONDecodeError as exc:
        raise InvalidDelivery(f"body: not valid JSON ({exc})") from None
    if delivery.vendor == "hubspot":
        outcomes = hubspot_outcomes(payload, mapping)
        return _Read(outcomes, lambda picked: orjson.dumps([payload[i] for i in picked]))
    return _Read(pipedrive_outcomes(payload, mapping), lambda _: delivery.body)


async def _enriched(
    delivery: RawDelivery, read: _Read, result: Interpretation, origin: Origin, context: Context
) -> list[ItemOutcome]:
    """The outcomes left once the deal source answered for the deals it knows."""
    source = context.sources.get(delivery.vendor)
    deals = sorted({o.deal for o in read.outcomes if o.deal is not None})
    if source is None or delivery.vendor not in ENRICHED_VENDORS or not deals:
        return read.outcomes
    try:
        answer = await source.fetch(deals)
    except VendorRefused as exc:
        log.warning("%s API refused (%s): using the webhook's own content", delivery.vendor, exc)
        result.source_refused = True
        return read.outcomes
    for deal in deals:
        indices = [o.index for o in read.outcomes if o.deal == deal]
        if deal in answer.refused:
            records, reasons = [], [answer.refused[deal]]
        elif deal in answer.events:
            records, reasons = _validated(answer.events[deal], context)
        else:
            result.skipped["deal_deleted"] += len(indices)
            continue
        letter = _letter_of(delivery, read, indices)
        if reasons:
            _dead_letter(result, letter(), "; ".join(reasons), origin, context)
        else:
            _publish(result, records, letter)
    return [o for o in read.outcomes if o.deal not in deals]


def _settle(
    delivery: RawDelivery,
    read: _Read,
    outcomes: list[ItemOutcome],
    result: Interpretation,
    origin: Origin,
    context: Context,
) -> None:
    """Publish what is valid, count the skips, dead-letter the rest (one letter per deal)."""
    failed: dict[object, list[str]] = {}
    for outcome in outcomes:
        if outcome.skipped is not None:
            result.skipped[outcome.skipped] += 1
            continue
        records, reasons = _validated(outcome.events, context)
        if outcome.failure is not None:
            reasons = [outcome.failure]
        group = outcome.deal if outcome.deal is not None else ("item", outcome.index)
        if reasons:
            failed.setdefault(group, []).extend(reasons)
        else:
            _publish(result, records, _letter_of(delivery, read, _indices(read, group)))
    for group, reasons in failed.items():
        letter = _delivery_letter(delivery, read.subset(_indices(read, group)))
        _dead_letter(result, letter, "; ".join(dict.fromkeys(reasons)), origin, context)


def _indices(read: _Read, group: object) -> list[int]:
    """The items of a deal (all of its items in the delivery), or the one item of ``group``."""
    return [o.index for o in read.outcomes if o.deal == group] or [group[1]]  # type: ignore[index]


def _letter_of(delivery: RawDelivery, read: _Read, indices: list[int]) -> Callable[[], Outgoing]:
    return lambda: _delivery_letter(delivery, read.subset(indices))


def _validated(events: Sequence[dict], context: Context) -> tuple[list[Outgoing], list[str]]:
    """The records of ``events`` when all are valid, else the reasons (nothing of the item)."""
    records, reasons = [], []
    for event in events:
        try:
            records.append(outgoing_record(event, context.policy, context.names))
        except InvalidEvent as exc:
            reasons += exc.reasons
    return (records, []) if not reasons else ([], list(dict.fromkeys(reasons)))


def _publish(
    result: Interpretation, records: list[Outgoing], letter: Callable[[], Outgoing] | None
) -> None:
    """One item's (deal's) events, and how to dead-letter its items should they not fit."""
    if records:
        result.units.append(Unit(tuple(records), letter))
    result.published += len(records)


def _delivery_letter(delivery: RawDelivery, body: bytes) -> Outgoing:
    return Outgoing("", delivery.vendor, encode_delivery(delivery.with_body(body)))


def _dead_letter(
    result: Interpretation, letter: Outgoing, reason: str, origin: Origin, context: Context
) -> None:
    """``letter`` (key and value) onto the dead-letter topic, with the reason and its origin.

    A letter over Kafka's size limit is replaced by a small one: the reason and the raw
    delivery's coordinates only (``events.crm.oversize``), counted as ``too_large``.
    """
    dead_letters = context.names.dead_letters
    record = fitting_letter(letter, reason, origin, dead_letters)
    label = reason_label(dict(record.headers)[DLQ_REASON].decode("utf-8"))
    if label == TOO_LARGE:
        log.error(
            "dead letter of %s at %s too large: only its coordinates are kept",
            result.vendor,
            origin,
        )
    result.units.append(Unit((record,), label=label))
    result.dead_letters[label] += 1


def reason_label(reason: str) -> str:
    """The metric label of a dead-letter reason: its field (``currency``, ``amount``, ...) when
    it names one, else ``invalid_payload``."""
    head = reason.split(":", 1)[0].strip()
    return head if _LABEL.fullmatch(head) else "invalid_payload"
