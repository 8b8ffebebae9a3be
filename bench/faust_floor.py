"""Faust's own floor: agents that only take and ack their events, nothing else.

What the worker's rate is bounded by before any salespulse code runs: the same three event
topics, one agent each, ``stream.take_events`` in batches of 2000 within 0.2 s as the worker's
fold agents take them, uvloop and the worker's garbage-collector policy, and no decoding, folding,
state or sending. Its consumer is either Faust's own (``faust``) or the worker's
(``worker``: ``streams.faust_ext``'s, whose fetch loop hands records over inline), so the run
shows what the worker's consumer saves and what is left. ``bench.pipeline`` times it on the same
pre-produced events, by the events its agents have taken (``GET /progress``), so the worker's
rate reads against it.

Run as its own process: ``python -m bench.faust_floor BOOTSTRAP PREFIX WEB_PORT DATA_DIR
[faust|worker]``.
"""

from __future__ import annotations

import asyncio
import sys

import faust

from bench.naive_app import baseline_app
from events.settings import Settings
from events.topics import TopicNames
from streams.faust_ext.checkpointing_app import SalespulseApp
from streams.gc_policy import tune_collector

BATCH, WITHIN_S = 2000, 0.2
GC_YOUNG_THRESHOLD: int = Settings.model_fields["worker_gc_young_threshold"].default
"""The worker's default (setting ``worker_gc_young_threshold``)."""

CONSUMERS: dict[str, type[faust.App]] = {"faust": faust.App, "worker": SalespulseApp}
"""The floor's consumer by name: Faust's, or the worker's (its app class, without a store)."""


def create_floor_app(
    bootstrap: str, prefix: str, web_port: int, data_dir: str, consumer: str = "faust"
) -> faust.App:
    progress = {"processed": 0}
    app = baseline_app(
        f"floor-{consumer}", bootstrap, prefix, web_port, data_dir, progress, CONSUMERS[consumer]
    )
    for name in TopicNames(prefix).event_topics:
        topic = app.topic(name, key_serializer="raw", value_serializer="raw")

        async def take_only(stream):
            async for events in stream.take_events(BATCH, WITHIN_S):
                progress["processed"] += len(events)

        take_only.__name__ = take_only.__qualname__ = f"take-{name}"
        app.agent(topic, name=f"take-{name}")(take_only)
    return app


def main(argv: list[str]) -> None:
    import uvloop
    from faust.worker import Worker

    bootstrap, prefix, web_port, data_dir, *consumer = argv
    asyncio.set_event_loop(uvloop.new_event_loop())
    app = create_floor_app(bootstrap, prefix, int(web_port), data_dir, *consumer)
    tune_collector(GC_YOUNG_THRESHOLD)
    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
