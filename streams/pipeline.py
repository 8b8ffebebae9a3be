"""What each agent does with a batch of Kafka messages: decode, dead-letter, fold, send on.

The agents (``streams.app``) only iterate batches; this class holds the topics and the state they
share and turns messages into the inputs of the pure batch folds (``streams.folds``). A batch
mixes partitions, and each partition's state is its own (``streams.state.engine``), so every fold
runs once per partition of the batch, over that partition's tables. Inter-agent messages are
msgpack behind a format byte, handed to the producer as ready bytes (``streams.direct_send``);
messages of the first format (compact JSON) are still read:

- ``kpi-deltas``: one message per destination partition and batch, sent to that partition, every
  scope key's corrections tagged with the input that caused them (``streams.kpi_deltas``)
- ``customer-wins``: one message per destination partition (that of each customer id) and
  fold-deals batch, the batch's win changes in order (``streams.customer_wins``)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any, Protocol, TypeVar

from events.codec import decode_event
from events.models import EventPolicy, InvalidEvent
from events.topics import TopicNames, dead_letter_headers, route
from projections.day_values import DayKey, apply_day_batch
from projections.normalize import amount_micros, deal_event_of
from projections.state_types import Carry, DayValue
from projections.timebase import BucketGrid, to_us
from streams.customer_wins import (
    MalformedCustomerWins,
    decode_customer_wins,
    encode_customer_wins,
)
from streams.direct_send import DirectSender
from streams.folds import (
    Corrections,
    DealBatchResult,
    IncomingCall,
    IncomingCost,
    IncomingDealEvent,
    fold_activity_batch,
    fold_customer_batch,
    fold_deal_batch,
)
from streams.kpi_deltas import MalformedKpiDeltas, encode_kpi_deltas, read_day_entries
from streams.retention import (
    DEFAULT_RETENTION_DAYS,
    apply_horizon,
    forget_idle_keys,
    leaves_a_trace,
    max_stream_us,
    prune_days_if_due,
    prune_seen_if_due,
    seen_horizon,
)
from streams.telemetry import WorkerTelemetry

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class AgentState(Protocol):
    """The agents' state, per partition (``streams.state.engine.StateEngine``; dicts in tests)."""

    def table(self, name: str, partition: int) -> MutableMapping[str, Any]:
        """``deals``, ``customers`` or ``seen`` of one partition, or ``day_ix`` (where the apply
        agent's clock is, ``streams.retention``); ``seen`` lists keys by range too."""
        ...

    def days(self, partition: int) -> MutableMapping[DayKey, DayValue]:
        """Day values; also ``prune_below(horizon, lower)`` (``DayTable``)."""
        ...

    def stocks(self, partition: int) -> MutableMapping[str, Carry]: ...

    def live_keys(self, partition: int) -> MutableMapping[str, int]: ...

    def note_applied(self, partition: int, next_offset: int) -> None: ...


def by_partition(items: Iterable[Item], partition: Callable[[Item], int]) -> dict[int, list[Item]]:
    """Items grouped by partition, each group in the items' order."""
    groups: dict[int, list[Item]] = {}
    for item in items:
        groups.setdefault(partition(item), []).append(item)
    return groups


class Pipeline:
    """Shared state of the agents of one worker; built by ``create_app``."""

    def __init__(
        self,
        *,
        names: TopicNames,
        topics: Any,
        state: AgentState,
        grid: BucketGrid,
        policy: EventPolicy,
        telemetry: WorkerTelemetry,
    ) -> None:
        self.names, self.topics, self.state = names, topics, state
        self.grid, self.policy, self.telemetry = grid, policy, telemetry
        self.retention_days = DEFAULT_RETENTION_DAYS
        """Days of event time kept back from stream time (setting ``retention_days``)."""
        self.apply_max_keys = 2000
        """Most scope keys folded into the day values at once (see ``on_kpi_batch``); the worker
        sets it to its ``batch_max_events``, the most messages per batch when each carried one."""
        self.keys_changed: Callable[[Iterable[str]], None] = lambda keys: None
        """Told the scope keys whose day values a batch changed (``Ownership.mark_changed``)."""
        self.partitions: int = topics.kpi_deltas.partitions
        """Partitions of kpi-deltas (all topics have as many): where each scope key is sent."""
        self.customer_wins_out = DirectSender(topics.customer_wins)
        self.kpi_deltas_out = DirectSender(topics.kpi_deltas)

    async def on_event_batch(self, kind: str, events: Sequence[Any]) -> None:
        """Fold a batch from one of the three event topics (``kind``: deal, call or cost)."""
        valid = []
        for event in events:
            decoded = await self._decode_or_dead_letter(event.message)
            if decoded is not None:
                valid.append((event.message, decoded))
                self.telemetry.event_processed(
                    event.message.topic, decoded.type, decoded.occurred_at.timestamp()
                )
        if kind == "deal":
            await self._fold_deals(valid)
        else:
            await self._fold_activity([activity_of(m, e, self.policy.rates) for m, e in valid])

    async def _fold_activity(self, activities: list[IncomingCall | IncomingCost]) -> None:
        """Per partition: move its clock to the batch's latest event, fold with that horizon,
        then forget the ids beyond it; the messages carry the latest clock of the batch."""
        deltas = Corrections()
        times = []
        for partition, items in by_partition(activities, _partition).items():
            seen = self.state.table("seen", partition)
            latest = max(item.at_us for item in items)
            clock = seen_horizon(seen, latest, self.retention_days)
            deltas.absorb(fold_activity_batch(seen, items, clock.horizon))
            prune_seen_if_due(seen, clock)
            times.append(clock.stream_us)
        await self.send_deltas(deltas, max_stream_us(times))

    async def _fold_deals(self, valid: list) -> None:
        batch = [
            IncomingDealEvent(
                event.deal_id,
                event.event_id,
                deal_event_of(event, message.offset, self.policy.rates),
                message.partition,
            )
            for message, event in valid
        ]
        result = DealBatchResult()
        for partition, items in by_partition(batch, _partition).items():
            result.absorb(fold_deal_batch(self.state.table("deals", partition), items))
        for message in encode_customer_wins(result.customer_changes, self.partitions):
            await self.customer_wins_out.send(message.key, message.value, message.partition)
        await self.send_deltas(result.deltas, max_stream_us(e.event.at_us for e in batch))

    async def on_customer_batch(self, events: Sequence[Any]) -> None:
        """Fold the win changes of a batch of customer-wins messages, batched or of one change."""
        changes = []
        for event in events:
            message = event.message
            try:
                changes += decode_customer_wins(
                    message.key, message.value, message.offset, message.partition, self.partitions
                )
            except MalformedCustomerWins as exc:
                await self.dead_letter(message, f"value: not a customer-win change ({exc})")
        deltas = Corrections()
        for partition, items in by_partition(changes, _partition).items():
            deltas.absorb(fold_customer_batch(self.state.table("customers", partition), items))
        await self.send_deltas(deltas)

    async def on_kpi_batch(self, events: Sequence[Any]) -> None:
        """Apply a batch of kpi-deltas messages, ``apply_max_keys`` scope keys at a time.

        A message carries a whole upstream batch's scope keys of its partition, so a batch of
        messages can hold the corrections of hundreds of upstream batches when the agent lags
        (a backfill): applied at once, every day value they touch would be decoded in memory
        together. Each message's corrections belong to its own partition's day values.
        """
        corrections: dict[int, list] = {}
        times: dict[int, list[int | None]] = {}
        pending = 0
        for event in events:
            message = event.message
            try:
                found, stream_us = read_day_entries(
                    message.value, message.partition, self.partitions
                )
            except MalformedKpiDeltas as exc:
                await self.dead_letter(message, f"value: not KPI corrections ({exc})")
            else:
                corrections.setdefault(message.partition, []).extend(found)
                times.setdefault(message.partition, []).append(stream_us)
                pending += len(found)
            if pending >= self.apply_max_keys:
                self._apply(corrections, times)
                corrections, times, pending = {}, {}, 0
        self._apply(corrections, times)
        for partition in {event.message.partition for event in events}:
            self._prune_days(partition)
        for event in events:
            self.state.note_applied(event.message.partition, event.message.offset + 1)

    def _apply(self, corrections: dict[int, list], times: dict[int, list[int | None]]) -> None:
        """Apply each partition's corrections after moving its clock to the latest stream time
        they carried: parts for days beyond the horizon are dropped, not stored (design §8)."""
        for partition, carried in times.items():
            found = corrections.get(partition, [])
            latest = max_stream_us(carried)
            clock = apply_horizon(self.state, partition, latest, self.retention_days)
            live = self.state.live_keys(partition)
            for key, entries in found:
                if key not in live and leaves_a_trace(entries, clock.horizon):
                    live[key] = 1
            days, stocks = self.state.days(partition), self.state.stocks(partition)
            apply_day_batch(days, found, self.grid, stocks, clock.horizon)
            self.keys_changed(key for key, _ in found)

    def _prune_days(self, partition: int) -> None:
        """Delete the day values beyond the horizon once it moved (at most once a stream day);
        keys left with nothing to report stop being listed (``forget_idle_keys``)."""
        pruned = prune_days_if_due(self.state, partition)
        if pruned:
            keys = {key for key, _ in pruned}
            forget_idle_keys(self.state, partition, keys)
            self.keys_changed(keys)

    async def send_deltas(self, corrections: Corrections, stream_us: int | None = None) -> None:
        """One kpi-deltas message per destination partition (more if large), in order, each
        carrying the sender's stream time ``stream_us`` (None: it read no event time)."""
        messages = encode_kpi_deltas(corrections.items(), self.partitions, stream_us=stream_us)
        for message in messages:
            await self.kpi_deltas_out.send(message.key, message.value, message.partition)

    async def _decode_or_dead_letter(self, message: Any) -> Any | None:
        """The valid event, or ``None`` after dead-lettering the message with the reason.

        An event must sit on the topic and under the key of contract section 7: the key decides
        the partition, and a deal's or a rep's state lives in exactly one partition.
        """
        try:
            return placed_event(message.topic, message.key, message.value, self.policy, self.names)
        except InvalidEvent as exc:
            await self.dead_letter(message, str(exc))
            return None

    async def dead_letter(self, message: Any, reason: str) -> None:
        self.telemetry.dead_lettered(message.topic, reason)
        log.warning(
            "dead letter from %s[%s]@%s: %s",
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        await self.topics.dead_letters.send(
            key=message.key,
            value=message.value,
            headers=dead_letter_headers(reason, message.topic, message.partition, message.offset),
        )


def placed_event(
    topic: str, key: bytes | None, value: bytes | None, policy: EventPolicy, names: TopicNames
) -> Any:
    """The valid event of a record of an event topic, or ``InvalidEvent`` with the reason.

    Besides the event itself, the record must sit on the topic and under the key of contract
    section 7. Workers dead-letter what this refuses; ``salespulse rebuild`` skips it.
    """
    event, _ = decode_event(value or b"", policy)
    expected_topic, expected_key = route(event, names)
    if expected_topic != topic:
        raise InvalidEvent([f"type: {event.type} does not belong on topic {topic}"])
    if (key or b"") != expected_key.encode():
        raise InvalidEvent([f"key: must be {expected_key!r} for this {event.type} event"])
    return event


def activity_of(message: Any, event: Any, rates: Any) -> IncomingCall | IncomingCost:
    routing_key = (message.key or b"").decode(errors="replace")
    at_us = to_us(event.occurred_at)
    if event.type == "call.logged":
        return IncomingCall(
            routing_key,
            event.event_id,
            at_us,
            event.rep_id,
            event.team_id,
            message.offset,
            message.partition,
        )
    return IncomingCost(
        routing_key,
        event.event_id,
        at_us,
        event.category,
        amount_micros(event, rates),
        event.team_id,
        event.channel,
        message.offset,
        message.partition,
        event.segment,
    )


def _partition(item: Any) -> int:
    return item.partition  # type: ignore[no-any-return]
