"""``salespulse`` command line: run a worker or the ingest API, manage topics, feed a demo."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from events.settings import Settings
from streams.tools.cli_backfill import backfill
from streams.tools.cli_crm import crm_cli
from streams.tools.cli_dead_letters import dead_letters_cli
from streams.tools.cli_kpis import kpis
from streams.tools.cli_rebuild import rebuild_cli

cli = typer.Typer(
    help="salespulse: live sales KPIs from CRM events.", no_args_is_help=True, add_completion=False
)
topics_cli = typer.Typer(help="Manage the event-log topics.", no_args_is_help=True)
cli.add_typer(topics_cli, name="topics")


def _settings(**overrides) -> Settings:
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


def _ensure_topics(
    settings: Settings,
    internal: tuple[str, ...] = (),
    configured: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create the topics, with the configured Kafka security; a refusal exits 1 with the reason.

    Unreachable brokers and refused credentials are an operator's error, not a traceback.
    """
    from events.errors import exit_code
    from events.kafka_admin import TopicCreationFailed, ensure_topics
    from events.kafka_security import kafka_client_options
    from events.topics import TopicNames

    names = TopicNames(settings.topic_prefix)
    try:
        return asyncio.run(
            ensure_topics(
                settings.bootstrap_servers,
                names.event_topics,
                names.dead_letters,
                settings.partitions,
                settings.replication_factor,
                internal_topics=internal,
                client_options=kafka_client_options(settings),
                configured_topics=configured,
            )
        )
    except TopicCreationFailed as exc:
        typer.echo(f"salespulse: {exc}", err=True)
        raise typer.Exit(exit_code(exc)) from exc


@topics_cli.command("create")
def topics_create() -> None:
    """Create the event-log and dead-letter topics if they are missing."""
    settings = Settings()
    created = _ensure_topics(settings)
    typer.echo(f"created: {', '.join(created)}" if created else "all topics already exist")


@cli.command()
def worker(
    web_port: Annotated[int | None, typer.Option(help="Web port (/metrics, /v1/kpis).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local table state directory.")] = None,
) -> None:
    """Run a stream worker: fold the event log into KPI tables and serve them."""
    import uvloop

    from streams.app import create_app
    from streams.faust_ext.worker_logging import service_worker
    from streams.gc_policy import tune_collector
    from streams.state.snapshot_kafka import STATE_TOPIC_CONFIG

    settings = _settings(worker_web_port=web_port, data_dir=data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The internal topics too: a group that assigns partitions before Faust has created them
    # leaves them to nobody until a metadata refresh (docs/GUARANTEES.md). And the state topic,
    # which a take-over reads first thing: created then, its leaders were not elected yet.
    _ensure_topics(settings, settings.internal_topics, {settings.state_topic: STATE_TOPIC_CONFIG})
    # uvloop: 1.3x the folding throughput of asyncio's own loop (docs/BENCHMARKS.md).
    asyncio.set_event_loop(uvloop.new_event_loop())
    app = create_app(settings)
    tune_collector(settings.worker_gc_young_threshold)
    service_worker(app, settings.log_level).execute_from_commandline()


@cli.command()
def ingest(
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
) -> None:
    """Run the ingest HTTP API (POST /v1/events).

    Limits for slow or hostile clients (request head and body deadlines, head size, keep-alive,
    concurrency) are set and documented in ``events.ingest_server``.
    """
    from events.ingest_api import create_ingest_app
    from events.ingest_server import serve

    settings = _settings(ingest_port=port, ingest_host=host)
    logging.basicConfig(level=settings.log_level)
    _ensure_topics(settings)
    app = create_ingest_app(settings)
    serve(app, settings)


@cli.command()
def demo(
    ingest_url: Annotated[str, typer.Option(help="Ingest base URL.")] = "http://127.0.0.1:8080",
    worker_url: Annotated[
        str, typer.Option(help="Any worker's base URL.")
    ] = "http://127.0.0.1:6066",
    days: Annotated[int, typer.Option(help="Days of history to backfill.")] = 21,
    live_seconds: Annotated[float, typer.Option(help="Seconds of live trickle after it.")] = 10.0,
    seed: Annotated[int, typer.Option(help="Random seed of the demo company.")] = 7,
) -> None:
    """Feed a realistic demo stream through the ingest API and print the KPIs it produced."""
    from streams.demo_run import run_demo

    raise typer.Exit(run_demo(Settings(), ingest_url, worker_url, days, live_seconds, seed))


cli.command("kpis")(kpis)
cli.add_typer(dead_letters_cli, name="dead-letters")
cli.command("backfill")(backfill)
cli.add_typer(rebuild_cli, name="rebuild")
cli.add_typer(crm_cli, name="crm")


def main() -> None:
    cli()
