"""The worker's Faust app class and its consumer: where the two protocols are plugged in.

Faust builds its consumer in ``App._new_consumer``; this app builds one whose class adds the
checkpoints (``checkpointed_offsets``), the delivery fence (``ordered_delivery``) and the inline
hand-over of fetched records (``inline_delivery``) to Faust's aiokafka consumer, wired to the app
exactly as Faust wires its own. The protocols themselves are in the package docstring
(``streams.faust_ext``).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer

from streams.faust_ext.checkpointed_offsets import CheckpointedOffsets, CheckpointedState
from streams.faust_ext.inline_delivery import InlineDelivery
from streams.faust_ext.ordered_delivery import SeekFencedDelivery


class SalespulseConsumer(CheckpointedOffsets, SeekFencedDelivery, InlineDelivery, AIOKafkaConsumer):
    """Faust's aiokafka consumer with the state engine's offsets, the delivery fence and the
    inline hand-over."""


class SalespulseApp(faust.App):
    """A Faust app whose consumer checkpoints ``state_engine`` at each commit, resumes each
    partition from its checkpoint and delivers it in offset order across rebalances."""

    state_engine: CheckpointedState | None
    """The worker's store (None: Faust's own offsets, as in tests of the consumer alone)."""

    def __init__(
        self, id: str, *, state_engine: CheckpointedState | None = None, **options: Any
    ) -> None:
        super().__init__(id, **options)
        self.state_engine = state_engine

    async def on_shutdown(self) -> None:
        """After the consumer's last commit (children stop first): finish the snapshots in
        flight."""
        await super().on_shutdown()
        if self.state_engine is not None:
            await self.state_engine.stop()

    def _new_consumer(self) -> Any:
        return SalespulseConsumer(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.loop,
        )
