"""What each agent does with a batch of Kafka messages: decode, dead-letter, fold, send on.

The agents (``streams.app``) only iterate batches; this class holds the topics and the state they
share and turns messages into the inputs of the pure batch folds (``streams.folds``). A batch
mixes partitions, and each partition's state is its own (``streams.state.engine``), so every fold
runs once per partition of the batch, over that partition's tables, with its retention: those
per-partition steps are ``streams.apply_steps``, shared with the replay model of the tests, and
this class only decodes, dead-letters and sends around them. Inter-agent messages are
msgpack behind a format byte, handed to the producer as ready bytes
(``streams.faust_ext.direct_send``);
messages of the first format (compact JSON) are still read:

- ``kpi-deltas``: one message per destination partition and batch, sent to that partition, every
  scope key's corrections tagged with the input that caused them (``streams.kpi_deltas``)
- ``customer-wins``: one message per destination partition (that of each customer id) and
  fold-deals batch, the batch's win changes in order (``streams.customer_wins``)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from events.codec import decode_event
from events.models import EventPolicy, InvalidEvent
from events.topics import TopicNames, dead_letter_headers, route
from projections.day_values import DayKey
from projections.normalize import amount_micros, deal_event_of
from projections.state_types import Carry, DayValue
from projections.timebase import BucketGrid, to_us
from streams.apply_steps import (
    DealMemory,
    fold_activity_parts,
    fold_customer_parts,
    fold_deal_parts,
    prune_part,
)
from streams.corrections import Corrections
from streams.customer_wins import (
    MalformedCustomerWins,
    decode_customer_wins,
    encode_customer_wins,
)
from streams.deal_memory import DEFAULT_CLOSED_DEAL_MEMORY_DAYS
from streams.faust_ext.direct_send import DirectSender
from streams.folds import IncomingCall, IncomingCost, IncomingDealEvent
from streams.kpi_apply import KpiApply, kpi_apply_of
from streams.kpi_deltas import MalformedKpiDeltas, encode_kpi_deltas
from streams.retention import DEFAULT_RETENTION_DAYS
from streams.telemetry import WorkerTelemetry

if TYPE_CHECKING:
    from faust.types import TopicT

log = logging.getLogger(__name__)
APPLY_MAX_KEYS = 2000


class AgentState(Protocol):
    """The agents' state, per partition (``streams.state.engine.StateEngine``; dicts in tests)."""

    def table(self, name: str, partition: int) -> MutableMapping[str, Any]:
        """``deals``, ``customers`` or ``seen`` of one partition, or ``day_ix`` and ``deal_ix``
        (the apply and fold-deals clocks, ``streams.retention``, ``streams.deal_memory``);
        ``seen`` and ``deal_ix`` list keys by range too."""
        ...

    def days(self, partition: int) -> MutableMapping[DayKey, DayValue]:
        """Day values; also ``prune_below(horizon, lower)`` (``DayTable``)."""
        ...

    def stocks(self, partition: int) -> MutableMapping[str, Carry]: ...

    def live_keys(self, partition: int) -> MutableMapping[str, int]: ...

    def note_applied(self, partition: int, next_offset: int) -> None: ...


@dataclass(frozen=True)
class WorkerTopics:
    """A worker's Faust topics: the fold agents' inputs, the internal topics between agents,
    and where refused messages go."""

    deal_events: TopicT
    call_events: TopicT
    cost_events: TopicT
    dead_letters: TopicT
    customer_wins: TopicT
    kpi_deltas: TopicT


class Pipeline:
    """Shared state of the agents of one worker; built by ``create_app``."""

    def __init__(
        self,
        *,
        names: TopicNames,
        topics: WorkerTopics,
        state: AgentState,
        grid: BucketGrid,
        policy: EventPolicy,
        telemetry: WorkerTelemetry,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        closed_deal_memory_days: int = DEFAULT_CLOSED_DEAL_MEMORY_DAYS,
        apply_max_keys: int = APPLY_MAX_KEYS,
        keys_changed: Callable[[Iterable[str]], None] = lambda keys: None,
        kpi_apply: KpiApply | None = None,
    ) -> None:
        self.names, self.topics, self.state = names, topics, state
        self.grid, self.policy, self.telemetry = grid, policy, telemetry
        self.retention_days = retention_days
        """Days of event time kept back from stream time (setting ``retention_days``)."""
        self.deal_memory = DealMemory(self._table_of("deal_ix"), closed_deal_memory_days)
        """How long fold-deals keeps a closed deal (``streams.deal_memory``)."""
        self.apply_max_keys = apply_max_keys
        """Most scope keys folded into the day values at once (see ``on_kpi_batch``); a worker
        passes its ``batch_max_events``, the most messages per batch when each carried one."""
        self.keys_changed = keys_changed
        """Told the scope keys whose day values a batch changed (``Ownership.mark_changed``)."""
        self.kpi_apply = kpi_apply or kpi_apply_of("auto")
        """How kpi-deltas are read and applied (setting ``apply_engine``, ``streams.kpi_apply``)."""
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
        """Fold over each partition's ``seen`` with its retention (``fold_activity_parts``)."""
        corrections, stream_us = fold_activity_parts(
            self._table_of("seen"), activities, self.retention_days
        )
        await self.send_corrections(corrections, stream_us)

    def _table_of(self, name: str) -> Callable[[int], MutableMapping[str, Any]]:
        """The ``name`` table of a partition, as the shared steps ask for it."""
        return lambda partition: self.state.table(name, partition)

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
        result, stream_us = fold_deal_parts(
            self._table_of("deals"), batch, self.retention_days, self.deal_memory
        )
        if result.forgotten:
            self.telemetry.deals_forgotten.inc(result.forgotten)
        for message in encode_customer_wins(result.customer_changes, self.partitions):
            await self.customer_wins_out.send(message.key, message.value, message.partition)
        await self.send_corrections(result.corrections, stream_us)

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
        await self.send_corrections(fold_customer_parts(self._table_of("customers"), changes))

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
                found, stream_us = self.kpi_apply.read(
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
        """Apply each partition's corrections with its retention (``KpiApply.apply``)."""
        for partition, carried in times.items():
            found = corrections.get(partition, [])
            self.kpi_apply.apply(
                self.state, partition, found, carried, self.grid, self.retention_days
            )
            self.keys_changed(key for key, _ in found)

    def _prune_days(self, partition: int) -> None:
        """Prune the partition's day values beyond the horizon (``prune_part``)."""
        pruned = prune_part(self.state, partition)
        if pruned:
            self.keys_changed(pruned)

    async def send_corrections(
        self, corrections: Corrections, stream_us: int | None = None
    ) -> None:
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
