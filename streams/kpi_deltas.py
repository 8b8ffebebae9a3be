"""The ``kpi-deltas`` message format: every scope key of one destination partition in one message.

Why per partition: an agent's batch touches hundreds of scope keys (rep, team, channel, company,
each per bucket grid), and one Kafka record per scope key made the records themselves the cost
(docs/BENCHMARKS.md, proposal 4). A message now carries every scope key of its batch that lives
in one partition, and is sent with that partition explicitly, so placement is unchanged: a scope
key's corrections still reach the partition of its own key (``streams.routing.partition_of``),
which is where its buckets live and which worker owns it.

Value (compact JSON, orjson)::

    [[scope_key, [[src, offset, quarter, counts, reps, customers], ...]], ...]

Counts are JSON integers, and decimal strings for the rare sums beyond 64 bits
(``projections.tally.wire_int``), which orjson cannot write as numbers.

The message key is the first scope key of the message: informative only, but it hashes to the
same partition, so a tool that places by key would agree.

Order, which the per-bucket applied marks rely on (``streams.folds.apply_kpi_batch``): entries of
a scope key keep their (src, offset) order inside a message, scope keys keep the order of the
batch, and the messages of one partition are sent one after the other by the one producer of the
agent that folded the source partition, so Kafka keeps them in that order too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from projections.tally import Tally, read_counts
from streams.folds import Entry
from streams.routing import partition_of

MAX_MESSAGE_BYTES = 512 * 1024
"""Start another message of the same partition past this size: internal topics get the broker's
default ``max.message.bytes`` (1 MiB), and a larger batch setting must not hit it."""


@dataclass(frozen=True, slots=True)
class KpiDeltasMessage:
    partition: int
    key: bytes
    value: bytes


def encode_kpi_deltas(
    corrections: Iterable[tuple[str, list[Entry]]],
    partitions: int,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> list[KpiDeltasMessage]:
    """The messages carrying ``corrections`` (scope key, its entries in order), per partition."""
    by_partition: dict[int, list[tuple[str, bytes]]] = {}
    for scope_key, entries in corrections:
        item = orjson.dumps(
            [scope_key, [[src, offset, q, *tally.to_json()] for src, offset, q, tally in entries]]
        )
        by_partition.setdefault(partition_of(scope_key, partitions), []).append((scope_key, item))
    messages = []
    for partition, items in by_partition.items():
        chunk: list[tuple[str, bytes]] = []
        size = 0
        for scope_key, item in items:
            if chunk and size + len(item) + 1 > max_bytes:
                messages.append(_message(partition, chunk))
                chunk, size = [], 0
            chunk.append((scope_key, item))
            size += len(item) + 1
        messages.append(_message(partition, chunk))
    return messages


def _message(partition: int, chunk: list[tuple[str, bytes]]) -> KpiDeltasMessage:
    return KpiDeltasMessage(
        partition, chunk[0][0].encode(), b"[" + b",".join(item for _, item in chunk) + b"]"
    )


class MalformedKpiDeltas(ValueError):
    """A kpi-deltas value this worker cannot apply; the message is dead-lettered."""


def decode_kpi_deltas(
    value: bytes | None, partition: int, partitions: int
) -> list[tuple[str, list[Entry]]]:
    """The (scope key, entries) of a message read from ``partition``, or ``MalformedKpiDeltas``.

    Checked before anything is applied, so a bad message changes no bucket: its shape, integer
    counts (a string would fail later, inside the batch apply, and stop the agent), and that every
    scope key belongs to the partition it was read from (another partition's key would be written
    by a worker that does not own it).
    """
    try:
        decoded = orjson.loads(value or b"")
        _expect(isinstance(decoded, list), "not a list of [scope key, entries]")
        result = []
        for scope_key, entries in decoded:
            _expect(isinstance(scope_key, str), f"scope key {scope_key!r} is not a string")
            _expect(
                partition_of(scope_key, partitions) == partition,
                f"scope key {scope_key!r} does not belong to partition {partition}",
            )
            _expect(isinstance(entries, list), f"entries of {scope_key!r} are not a list")
            result.append((scope_key, [_entry(*entry) for entry in entries]))
        return result
    except MalformedKpiDeltas:
        raise
    except (ValueError, TypeError, AttributeError) as exc:
        raise MalformedKpiDeltas(str(exc)) from exc


def _entry(src: Any, offset: Any, quarter: Any, counts: Any, reps: Any, customers: Any) -> Entry:
    _expect(isinstance(src, str), f"src {src!r} is not a string")
    _expect(type(offset) is int and type(quarter) is int, "offset and quarter must be integers")
    try:
        return src, offset, quarter, Tally(*(read_counts(p) for p in (counts, reps, customers)))
    except ValueError as exc:
        raise MalformedKpiDeltas(f"counts must be integers: {exc}") from None


def _expect(condition: bool, reason: str) -> None:
    if not condition:
        raise MalformedKpiDeltas(reason)
