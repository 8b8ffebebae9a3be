"""Dead letters as records to list, select and re-inject (pure: no Kafka here).

A dead letter is the original bytes of a refused record plus the headers written by
``events.topics.dead_letter_headers`` (reason, source topic, partition, offset). A CRM item that
could not be interpreted is a dead letter from the CRM deliveries topic: a delivery holding that
item (``events.crm.deliveries``), re-injected onto that topic for the interpreter to try again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from events.publisher import Outgoing
from events.topics import (
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    TopicNames,
)

REINJECTED_FROM = "x-salespulse-reinjected-from"
"""Header of a re-injected record: ``<dead-letter topic>/<partition>/<offset>`` it came from."""


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    reason: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def kind(self) -> str:
        """The reason's field (``currency``, ``key``, ``value``, …): the label metrics use."""
        return self.reason.split(":", 1)[0].strip() or "?"

    @property
    def event_id(self) -> str | None:
        """The event's id; for a CRM delivery, the id of the delivery it came in."""
        try:
            value = orjson.loads(self.value or b"")
        except orjson.JSONDecodeError:
            return None
        if not isinstance(value, dict):
            return None
        event_id = value.get("event_id", value.get("delivery_id"))
        return event_id if isinstance(event_id, str) else None


def dead_letter_of(
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]] | None,
) -> DeadLetter:
    """A record of the dead-letter topic; missing or garbled headers read as unknown."""
    named = {name: raw for name, raw in headers or ()}

    def text(name: str) -> str:
        return (named.get(name) or b"").decode("utf-8", errors="replace")

    def number(name: str) -> int | None:
        raw = text(name)
        return int(raw) if raw.isascii() and raw.isdigit() else None

    return DeadLetter(
        partition,
        offset,
        timestamp_ms,
        key,
        value,
        text(DLQ_REASON) or "?",
        text(DLQ_SOURCE_TOPIC) or "?",
        number(DLQ_SOURCE_PARTITION),
        number(DLQ_SOURCE_OFFSET),
    )


def parse_position(text: str) -> tuple[int, int]:
    """``PARTITION:OFFSET`` as a pair; ValueError with the expected form otherwise."""
    partition, sep, offset = text.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise ValueError(f"{text!r}: expected PARTITION:OFFSET, e.g. 0:42")
    return int(partition), int(offset)


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command acts on; every criterion given must hold (all: no filter)."""

    reason: str | None = None
    """Case-insensitive substring of the reason."""
    source_topic: str | None = None
    """Source topic, with or without the deployment's prefix."""
    since: datetime | None = None
    until: datetime | None = None
    positions: frozenset[tuple[int, int]] = frozenset()
    """Exact dead letters by (partition, offset)."""

    @property
    def is_everything(self) -> bool:
        return self == Selection()

    def matches(self, letter: DeadLetter, names: TopicNames) -> bool:
        if self.reason and self.reason.lower() not in letter.reason.lower():
            return False
        if self.source_topic and letter.source_topic not in (
            self.source_topic,
            names.prefix + self.source_topic,
        ):
            return False
        if self.since and letter.at < self.since:
            return False
        if self.until and letter.at >= self.until:
            return False
        return not self.positions or (letter.partition, letter.offset) in self.positions


def select(
    letters: Iterable[DeadLetter], selection: Selection, names: TopicNames
) -> list[DeadLetter]:
    return [letter for letter in letters if selection.matches(letter, names)]


LIST_COLUMNS = ["position", "time", "source", "reason", "event_id", "key"]
SUMMARY_COLUMNS = ["source", "kind", "count", "first", "last"]


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def list_rows(letters: Sequence[DeadLetter]) -> list[list]:
    return [
        [
            letter.position,
            _time(letter.at),
            letter.source_topic,
            letter.reason,
            letter.event_id,
            (letter.key or b"").decode("utf-8", errors="replace") if letter.key else None,
        ]
        for letter in letters
    ]


def summary_rows(letters: Sequence[DeadLetter]) -> list[list]:
    """One row per (source topic, reason kind): count and first / last time, most first."""
    counts = Counter((letter.source_topic, letter.kind) for letter in letters)
    rows = []
    for (source, kind), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        times = [x.at for x in letters if (x.source_topic, x.kind) == (source, kind)]
        rows.append([source, kind, count, _time(min(times)), _time(max(times))])
    return rows


def detail(letter: DeadLetter) -> dict:
    """Everything about one dead letter; the value as JSON when it is JSON, else as text."""
    try:
        value: object = orjson.loads(letter.value or b"")
    except orjson.JSONDecodeError:
        value = (letter.value or b"").decode("utf-8", errors="replace")
    return {
        "position": letter.position,
        "time": _time(letter.at),
        "reason": letter.reason,
        "source": {
            "topic": letter.source_topic,
            "partition": letter.source_partition,
            "offset": letter.source_offset,
        },
        "key": (letter.key or b"").decode("utf-8", errors="replace") if letter.key else None,
        "value": value,
    }


def reinjection(
    letters: Sequence[DeadLetter], names: TopicNames, dead_letter_topic: str
) -> tuple[list[Outgoing], dict[str, str]]:
    """Records to produce (original key and bytes onto the source topic) and, by position, why
    the others cannot be re-injected (e.g. from an internal topic, or a missing value).

    Event topics and the CRM deliveries topic take their dead letters back."""
    outgoing: list[Outgoing] = []
    refused: dict[str, str] = {}
    for letter in letters:
        if letter.source_topic not in names.reinjectable:
            refused[letter.position] = f"source {letter.source_topic} is not an event topic"
            continue
        if letter.value is None:
            refused[letter.position] = "no value (a tombstone carries no event)"
            continue
        origin = f"{dead_letter_topic}/{letter.partition}/{letter.offset}".encode()
        outgoing.append(
            Outgoing(letter.source_topic, letter.key, letter.value, ((REINJECTED_FROM, origin),))
        )
    return outgoing, refused


def purge_plan(
    low: Mapping[int, int], high: Mapping[int, int], before: Mapping[int, int] | None
) -> dict[int, int]:
    """Per partition, the offset to delete up to (exclusive), for partitions with records to go.

    ``low``/``high``: first and next offsets now; ``before``: the wanted cut (all if None).
    """
    plan = {}
    for partition, end in high.items():
        cut = end if before is None else min(before.get(partition, low.get(partition, 0)), end)
        if cut > low.get(partition, 0):
            plan[partition] = cut
    return plan
