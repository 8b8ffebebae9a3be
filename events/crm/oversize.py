"""What the interpreter does with a record Kafka will not store (``RecordTooLarge``).

A delivery is published as one batch of units: the events of one item (or of one deal's items),
and each dead letter. When the batch holds a record the topic refuses as too large (a topic whose
``max.message.bytes`` is below the 1 MiB checked at the edge), it is published again unit by
unit, so that only the unit holding that record fails:

- events too large: that item's (deal's) delivery becomes a dead letter, reason ``too_large: …``;
- a dead letter too large (here, or because its item is): a **small dead letter** replaces it,
  holding only where the raw delivery is: headers as every dead letter's (reason, source topic,
  partition, offset) and as value ``{"too_large": true, "topic": …, "partition": …,
  "offset": …}``, so that an operator can find the delivery on ``sales.crm-deliveries``;
- a small dead letter the topic still refuses is logged (an error naming the coordinates).

Nothing is ever dropped silently, and the delivery's offset is committed once every unit is
settled. The other units are published as they are.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from events.publisher import EventPublisher, Outgoing, RecordTooLarge, oversize_reason
from events.topics import DLQ_REASON, dead_letter_headers

log = logging.getLogger(__name__)

TOO_LARGE = "too_large"


@dataclass(frozen=True)
class Unit:
    """Records that stand or fall together: one item's (deal's) events, or one dead letter.

    ``letter``: for events, the delivery of their items (to dead-letter them instead); ``label``:
    for a dead letter, its metric label (``currency``, ...).
    """

    records: tuple[Outgoing, ...]
    letter: Callable[[], Outgoing] | None = None
    label: str | None = None


def letter_record(letter: Outgoing, reason: str, origin: Any, dead_letters: str) -> Outgoing:
    """``letter`` (key and value) as a dead letter: the reason and where it came from."""
    headers = dead_letter_headers(reason, origin.topic, origin.partition, origin.offset)
    return Outgoing(dead_letters, letter.key, letter.value, tuple(headers))


def small_letter(key: Any, reason: str, origin: Any, dead_letters: str) -> Outgoing:
    """A dead letter reduced to the coordinates of the raw delivery it stands for."""
    where = {"topic": origin.topic, "partition": origin.partition, "offset": origin.offset}
    value = orjson.dumps({"too_large": True, **where})
    at = f"{origin.topic}/{origin.partition}/{origin.offset}"
    full = f"{TOO_LARGE}: {reason.removeprefix(f'{TOO_LARGE}: ')} (the delivery is at {at})"
    return letter_record(Outgoing("", key, value), full, origin, dead_letters)


def fitting_letter(letter: Outgoing, reason: str, origin: Any, dead_letters: str) -> Outgoing:
    """The dead letter of ``letter``, or its small form when it is over Kafka's size limit."""
    record = letter_record(letter, reason, origin, dead_letters)
    too_large = oversize_reason(record)
    if too_large is None:
        return record
    why = f"{reason}; the dead letter would be {too_large.removeprefix('event: ')}"
    return small_letter(letter.key, why, origin, dead_letters)


async def publish_by_unit(
    publisher: EventPublisher, result: Any, origin: Any, dead_letters: str
) -> None:
    """Publish ``result.units`` one by one; a unit too large becomes a (small) dead letter.

    ``result`` (an ``Interpretation``) has its counts corrected to what was stored.
    """
    for unit in result.units:
        try:
            await publisher.publish(unit.records)
            continue
        except RecordTooLarge as exc:
            why = exc.reason
        if unit.letter is not None:
            result.published -= len(unit.records)
            reason = f"{TOO_LARGE}: {why}"
            letter = fitting_letter(unit.letter(), reason, origin, dead_letters)
        else:
            result.dead_letters[unit.label or TOO_LARGE] -= 1
            old = dict(unit.records[0].headers).get(DLQ_REASON, b"").decode("utf-8", "replace")
            letter = small_letter(unit.records[0].key, f"{why}; {old}", origin, dead_letters)
        result.dead_letters[TOO_LARGE] += 1
        await _publish_letter(publisher, letter, origin, dead_letters)
    result.dead_letters += Counter()  # drops the labels brought to zero


async def _publish_letter(
    publisher: EventPublisher, letter: Outgoing, origin: Any, dead_letters: str
) -> None:
    try:
        await publisher.publish([letter])
        return
    except RecordTooLarge as exc:
        why = exc.reason
    small = small_letter(letter.key, why, origin, dead_letters)
    try:
        await publisher.publish([small])
    except RecordTooLarge:
        log.error("no dead letter fits %s; the delivery at %s: %s", dead_letters, origin, why)
