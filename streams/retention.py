"""Retention by stream time (contract section 3, design state-engine-v2 §8): the horizon and the
seen-id index, over plain mappings so the pipeline, the replay model and the unit tests share it.

Stream time is the latest ``occurred_at`` a partition has folded, never the wall clock, so a
backfill of old history keeps what a live stream keeps. The horizon H is the first UTC day kept:
``day(stream time) - retention_days``. Day values of days below H, and call or cost ids whose
event day is below H, are deleted; the open-deal stocks survive in their per-key total
(``Carry``), which holds every stock change already.

Each partition keeps a ``StreamClock`` (stream time, horizon, how far it pruned) as one value of
the table its retention acts on, under a key no other entry of that table can have, so the clock
is written through the store and checkpointed in the same batch as the deletions it explains:

- the apply agent's clock is in ``day_ix`` (``APPLY_CLOCK_KEY``: its UTF-8 bytes start with
  ``F4 8F``, above every day-first index key of a representable day);
- an activity fold's clock is in ``seen`` (``SEEN_CLOCK_KEY``, starting with ``\\x01``: seen
  keys are JSON arrays, ``[``, and the index entries start with ``\\x00``).

Pruning runs when the horizon passed the last pruned day (at most once per stream day) and scans
only the index range between the two, so it never reads the retained state.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from projections.day_values import DayCorrection

DAY_US = 86_400 * 1_000_000
QUARTERS_PER_DAY = 96
MIN_DAY = -(1 << 31)
"""The first day a day key can hold (``projections.state_keys.encode_day``)."""
DEFAULT_RETENTION_DAYS = 100
"""Contract section 3: at least the longest window (qtd, 92 days) back from stream time."""

APPLY_CLOCK_KEY = "\U0010ffffstream-time"
"""Key of the apply agent's clock in its partition's ``day_ix`` table."""
SEEN_CLOCK_KEY = "\x01stream-time"
"""Key of an activity fold's clock in its partition's ``seen`` table."""
SEEN_INDEX = "\x00"
"""First character of a seen-index key: sorts below every seen id and the clock."""
_DAY_OFFSET = 1 << 31
DAY_TEXT_DIGITS = 10
"""Length of ``day_text``: an index key's id starts after it."""


class RangeTable(Protocol):
    """A table whose text keys can be listed by range (``StoredTable``; dicts in tests)."""

    def keys_between(self, lower: str, upper: str) -> list[str]:
        """Keys in ``[lower, upper)``, ascending."""
        ...


@dataclass(frozen=True, slots=True)
class StreamClock:
    """What a partition knows of time: ``stream_us`` (None: no event yet), ``horizon`` (first
    kept UTC day) and ``pruned_below`` (every value of a day below it is gone; None: never)."""

    stream_us: int | None = None
    horizon: int | None = None
    pruned_below: int | None = None

    def to_json(self) -> list:
        return [self.stream_us, self.horizon, self.pruned_below]

    @classmethod
    def from_json(cls, raw: Any) -> StreamClock:
        return cls(*raw) if raw else cls()

    @property
    def prune_due(self) -> bool:
        """The horizon moved past what was pruned: the days in between must go."""
        return self.horizon is not None and (
            self.pruned_below is None or self.horizon > self.pruned_below
        )


def utc_day(at_us: int) -> int:
    return at_us // DAY_US


def horizon_of(stream_us: int, retention_days: int) -> int:
    """The first UTC day kept at stream time ``stream_us``."""
    return utc_day(stream_us) - retention_days


def read_clock(table: MutableMapping[str, Any], key: str) -> StreamClock:
    return StreamClock.from_json(table.get(key))


def advance_clock(
    table: MutableMapping[str, Any], key: str, stream_us: int | None, retention_days: int
) -> StreamClock:
    """The clock with stream time raised to ``stream_us`` (never lowered), written back only
    when it changed; returns it. Call it before folding the input that carried ``stream_us``,
    so corrections for days that are already beyond the horizon are dropped, not stored."""
    clock = read_clock(table, key)
    if stream_us is None or (clock.stream_us is not None and stream_us <= clock.stream_us):
        return clock
    horizon = horizon_of(stream_us, retention_days)
    if clock.horizon is not None:
        horizon = max(horizon, clock.horizon)  # a lower retention setting never un-prunes
    clock = StreamClock(stream_us, horizon, clock.pruned_below)
    table[key] = clock.to_json()
    return clock


def mark_pruned(table: MutableMapping[str, Any], key: str, clock: StreamClock) -> StreamClock:
    """Record that everything below the clock's horizon is gone; written after the deletions,
    so a spill between the two leaves the prune due and it runs again."""
    clock = StreamClock(clock.stream_us, clock.horizon, clock.horizon)
    table[key] = clock.to_json()
    return clock


def max_stream_us(times: Iterable[int | None]) -> int | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


# -- seen ids: value [first offset, event day], index "\x00" + day + seen key -----------------


def day_text(day: int) -> str:
    """A day as fixed-width digits: text order is numeric order, negative days included."""
    return f"{day + _DAY_OFFSET:0{DAY_TEXT_DIGITS}d}"


def seen_index_key(day: int, key: str) -> str:
    return SEEN_INDEX + day_text(day) + key


class SeenId(NamedTuple):
    """A seen call or cost id: the first offset it was folded at, and its event's UTC day.

    Stored as ``[offset, day]``; an id remembered before retention is a bare offset, whose
    day is unknown (``None``: never pruned)."""

    offset: int
    day: int | None = None

    @classmethod
    def from_wire(cls, value: int | list[int]) -> SeenId:
        if isinstance(value, int):
            return cls(value)
        return cls(int(value[0]), value[1])

    def to_wire(self) -> int | list[int]:
        return self.offset if self.day is None else [self.offset, self.day]


def first_offset(value: Any) -> int | None:
    """The first offset a seen id was folded at (``None``: not seen), from its stored value."""
    if value is None:
        return None
    return SeenId.from_wire(value).offset


def remember_seen(seen: MutableMapping[str, Any], key: str, offset: int, day: int) -> None:
    """Remember a seen id with its event day; the index entry first, so a spill in between
    leaves at worst an index entry without its id (pruning skips it), never an unindexed id."""
    seen[seen_index_key(day, key)] = 0
    seen[key] = SeenId(offset, day).to_wire()


def prune_seen(seen: Any, below: int, lower: int | None) -> int:
    """Forget the ids whose event day is in ``[lower, below)`` (``lower`` None: from the
    start), found by their index: ``seen`` is a mutable mapping that is a ``RangeTable``.
    Returns how many ids went."""
    start = SEEN_INDEX + (day_text(lower) if lower is not None else "")
    dropped = 0
    for index_key in seen.keys_between(start, SEEN_INDEX + day_text(below)):
        key = index_key[1 + DAY_TEXT_DIGITS :]
        value = seen.get(key)
        day = None if value is None else SeenId.from_wire(value).day
        if day is not None and day < below:
            del seen[key]
            dropped += 1
        del seen[index_key]
    return dropped


# -- one partition's retention steps, as the agents take them (``streams.pipeline``) ----------


def seen_horizon(seen: MutableMapping[str, Any], stream_us: int | None, days: int) -> StreamClock:
    """An activity fold's clock moved to its batch's latest event time, before the fold."""
    return advance_clock(seen, SEEN_CLOCK_KEY, stream_us, days)


def prune_seen_if_due(seen: Any, clock: StreamClock) -> StreamClock:
    """After the fold: forget the ids of days below the horizon if it moved past the last
    prune (at most once per stream day)."""
    if not clock.prune_due or clock.horizon is None:
        return clock
    prune_seen(seen, clock.horizon, clock.pruned_below)
    return mark_pruned(seen, SEEN_CLOCK_KEY, clock)


def apply_horizon(state: Any, partition: int, stream_us: int | None, days: int) -> StreamClock:
    """The apply agent's clock of ``partition`` moved to the max stream time the messages
    about to be applied carried, before they are applied."""
    return advance_clock(state.table("day_ix", partition), APPLY_CLOCK_KEY, stream_us, days)


def prune_days_if_due(state: Any, partition: int) -> list[tuple[str, int]]:
    """After a batch is applied: delete the partition's day values below the horizon if it
    moved past the last prune; returns the (scope key, day) deleted."""
    index = state.table("day_ix", partition)
    clock = read_clock(index, APPLY_CLOCK_KEY)
    if not clock.prune_due or clock.horizon is None:
        return []
    pruned = state.days(partition).prune_below(clock.horizon, clock.pruned_below)
    mark_pruned(index, APPLY_CLOCK_KEY, clock)
    return list(pruned)


def retained_from(state: Any, partition: int) -> int | None:
    """The first UTC day ``partition``'s day values are kept for (None: no stream time yet):
    a window starting earlier cannot be read exactly any more."""
    return read_clock(state.table("day_ix", partition), APPLY_CLOCK_KEY).horizon


def leaves_a_trace(entries: Iterable[DayCorrection], horizon: int | None) -> bool:
    """Whether corrections reach a kept day or the stock total: only then is their scope key
    listed (a late correction that is dropped whole does not bring back a key that retention
    forgot)."""
    if horizon is None:
        return True
    return any(
        entry.quarter // QUARTERS_PER_DAY >= horizon
        or entry.tally.open_delta
        or entry.tally.open_amount_delta
        or entry.tally.open_weighted_delta
        for entry in entries
    )


def forget_idle_keys(state: Any, partition: int, keys: Iterable[str]) -> list[str]:
    """Of ``keys`` (whose old days were just pruned), those left without any day value and
    without an open deal leave the partition's live keys, so /metrics stops walking them;
    their ``Carry`` stays (its marks still guard against replayed stock changes)."""
    days, stocks, live = state.days(partition), state.stocks(partition), state.live_keys(partition)
    forgotten = []
    for key in keys:
        total = stocks.get(key)
        if total is not None and (total.open_deals or total.open_amount or total.open_weighted):
            continue
        if key in live and next(iter(days.days_from(key, MIN_DAY)), None) is None:
            del live[key]
            forgotten.append(key)
    return forgotten
