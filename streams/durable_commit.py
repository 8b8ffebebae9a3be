"""The worker's Faust app: a commit makes the agents' state durable before the Kafka commit.

The exactly-once-effect design (docs/GUARANTEES.md) rests on one order at every commit: the
outputs caused by input below the committed offsets are on Kafka (Faust flushes its producer,
``streams.direct_send``), then the agents' state is checkpointed with those offsets in one atomic
batch (``streams.state.engine``), then the offsets are committed to Kafka
(``streams.checkpointed_offsets``). No state is sent to Kafka: the workers have no Faust tables
and no changelog topics.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.checkpointed_offsets import SalespulseConsumer


class SalespulseApp(faust.App):
    """A Faust app whose consumer checkpoints ``state_engine`` at each commit, resumes each
    partition from its checkpoint and delivers it in offset order across rebalances
    (``streams.ordered_delivery``). ``create_app`` sets ``state_engine``."""

    state_engine: Any = None

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
