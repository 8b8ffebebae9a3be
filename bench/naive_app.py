"""The naive Faust baseline: one agent, one event at a time, table writes per event.

What a first Faust version of salespulse would look like: ``async for event in stream.events()``
over the three event topics, the same validation (``events.codec.decode_event``) and the same
pure KPI functions as the product (``projections``), but no batching: every event reads and writes
its ``seen`` entry, its deal, its customer and every time bucket it touches, one table write each.
It is not exact under replays or rebalances (no offset tags): it exists only to be timed, by the
events it has taken from its stream (``GET /progress``): its commits stall for many seconds
behind its flood of changelog records, so committed offsets would understate it.

Run as its own process: ``python -m bench.naive_app BOOTSTRAP PREFIX WEB_PORT DATA_DIR``.
"""

from __future__ import annotations

import asyncio
import sys

import faust

from events.codec import decode_event
from events.models import EventPolicy, InvalidEvent
from events.topics import TopicNames
from projections.deal import (
    CustomerWin,
    DealEvent,
    acquiring_win,
    contribution_of,
    customer_win_of,
    fold_deal,
)
from projections.effects import (
    QuarterHourCorrections,
    add_acquisition,
    add_call,
    add_deal,
    cost_spread,
)
from projections.normalize import deal_event_of, is_deal_event
from projections.readout import bucket_updates
from projections.tally import Tally, to_micros
from projections.timebase import BucketGrid, to_us

PARTITIONS = 8
TABLES = ("seen", "deals", "customers", "buckets")


def changelog_topics(prefix: str) -> list[str]:
    """Created before the app starts: a changelog topic Faust creates itself can show 0
    partitions in the metadata of the first writes, which Faust refuses (PartitionsMismatch)."""
    return [f"{prefix}naive-{table}-changelog" for table in TABLES]


def baseline_app(
    name: str,
    bootstrap: str,
    prefix: str,
    web_port: int,
    data_dir: str,
    progress: dict,
    app_class: type[faust.App] = faust.App,
) -> faust.App:
    """A Faust app of the bench's baselines (this one, ``bench.faust_floor``): their options,
    and the pages ``bench.pipeline`` polls: ``/progress`` (``progress``, events taken) and
    ``/readyz`` (partitions assigned)."""
    app = app_class(
        f"{prefix}{name}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=data_dir,
        web_port=web_port,
        web_host="127.0.0.1",
        topic_partitions=PARTITIONS,
        consumer_auto_offset_reset="earliest",
        table_standby_replicas=0,
        autodiscover=False,
        web_in_thread=False,
    )

    @app.page("/progress")
    async def progress_page(web, request):
        return web.json(progress)

    @app.page("/readyz")
    async def readyz(web, request):
        # The consumer's assignment, not the assignor's actives: an app without tables (the
        # floor) gets aiokafka's round-robin assignor, whose actives Faust never records.
        partitions = sorted({tp.partition for tp in app.consumer.assignment()})
        ready = not app.rebalancing and app.tables.actives_ready and partitions
        return web.json({"partitions": partitions}, status=200 if ready else 503)

    return app


def create_naive_app(bootstrap: str, prefix: str, web_port: int, data_dir: str) -> faust.App:
    progress = {"processed": 0}
    app = baseline_app("naive", bootstrap, prefix, web_port, data_dir, progress)
    names = TopicNames(prefix)
    source = app.topic(*names.event_topics, key_serializer="raw", value_serializer="raw")
    seen, deals, customers, buckets = (
        app.Table(name, partitions=PARTITIONS, key_type=str) for name in TABLES
    )
    policy, grid = EventPolicy(), BucketGrid("UTC")

    def fold_deal_event(event, offset: int, deltas: QuarterHourCorrections) -> None:
        stored = deals.get(event.deal_id) or []
        old = [DealEvent(at, seq, kind, attrs) for at, seq, kind, attrs in stored]
        new_event = deal_event_of(event, offset)
        deals[event.deal_id] = [
            *stored,
            [new_event.at_us, offset, new_event.kind, dict(new_event.attrs)],
        ]
        before = contribution_of(fold_deal(old))
        after = contribution_of(fold_deal([*old, new_event]))
        add_deal(deltas, before, -1)
        add_deal(deltas, after, +1)
        old_win = customer_win_of(event.deal_id, before)
        new_win = customer_win_of(event.deal_id, after)
        if old_win == new_win:
            return
        for customer_id in {win.customer_id for win in (old_win, new_win) if win is not None}:
            wins = dict(customers.get(customer_id) or {})
            first_before = acquiring_win(_wins(wins))
            if new_win is not None and new_win.customer_id == customer_id:
                win = new_win.win
                wins[event.deal_id] = [win.won_at, win.rep_id, win.team_id, win.channel]
            else:
                wins.pop(event.deal_id, None)
            customers[customer_id] = wins
            first_after = acquiring_win(_wins(wins))
            if first_before != first_after:
                add_acquisition(deltas, first_before, -1)
                add_acquisition(deltas, first_after, +1)

    @app.agent(source, name="naive-fold")
    async def fold(stream):
        async for event in stream.events():
            message = event.message
            progress["processed"] += 1
            try:
                decoded, _ = decode_event(message.value, policy)
            except InvalidEvent:
                continue
            if decoded.event_id in seen:
                continue
            seen[decoded.event_id] = message.offset
            deltas = QuarterHourCorrections()
            if is_deal_event(decoded):
                fold_deal_event(decoded, message.offset, deltas)
            elif decoded.type == "call.logged":
                add_call(deltas, to_us(decoded.occurred_at), decoded.rep_id, decoded.team_id)
            else:
                spread = cost_spread(
                    to_us(decoded.occurred_at),
                    decoded.category,
                    to_micros(decoded.amount),
                    decoded.team_id,
                    decoded.channel,
                )
                deltas.include(spread)
            for key, quarters in deltas.items():
                for (grid_name, index), update in bucket_updates(quarters, grid).items():
                    bucket = f"{key}|{grid_name}|{index}"
                    tally = Tally.from_json(buckets.get(bucket))
                    tally.add(update)
                    buckets[bucket] = tally.to_json()

    return app


def _wins(raw: dict) -> list[CustomerWin]:
    return [
        CustomerWin(at, deal, rep, team, channel) for deal, (at, rep, team, channel) in raw.items()
    ]


def main(argv: list[str]) -> None:
    from faust.worker import Worker

    bootstrap, prefix, web_port, data_dir = argv
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = create_naive_app(bootstrap, prefix, int(web_port), data_dir)
    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
