"""What ``streams.faust_ext`` takes from Faust beyond its documented API, as data.

A Faust upgrade may rename or drop any of these without notice; the pinned faust-streaming is
checked against these lists by ``tests/unit/streams/faust_ext/test_faust_ext_hooks.py``, which
names the hook that went missing. Add an entry here whenever this package starts relying on
another one.
"""

from __future__ import annotations

from typing import NamedTuple


class Hook(NamedTuple):
    """A method or attribute of a class of faust-streaming, mode or aiokafka, and why we need it."""

    module: str
    owner: str
    name: str
    why: str

    @property
    def label(self) -> str:
        return f"{self.module}.{self.owner}.{self.name}"


AIOKAFKA_CONSUMER = "faust.transport.drivers.aiokafka"

PRIVATE_HOOKS: tuple[Hook, ...] = (
    Hook("faust.app.base", "App", "_new_consumer", "overridden: the app builds our consumer"),
    Hook(
        "faust.app.base",
        "App",
        "_on_partitions_revoked",
        "handed to our consumer, as Faust's own _new_consumer does",
    ),
    Hook(
        "faust.app.base",
        "App",
        "_on_partitions_assigned",
        "handed to our consumer, as Faust's own _new_consumer does",
    ),
    Hook(
        "faust.transport.consumer",
        "Consumer",
        "_commit_offsets",
        "relied on: flushes the producer, then awaits _commit (commit protocol, steps 1-2)",
    ),
    Hook(
        AIOKAFKA_CONSUMER,
        "Consumer",
        "_commit",
        "overridden: the checkpoint goes before the Kafka commit (commit protocol, step 3)",
    ),
    Hook(
        AIOKAFKA_CONSUMER,
        "Consumer",
        "_seek",
        "called: moves a partition to its checkpoint's offset (rebalance protocol, step 4)",
    ),
    Hook(
        "faust.transport.consumer",
        "Consumer",
        "_drain_messages",
        "overridden: Faust's fetch loop with the inline hand-over (inline_delivery)",
    ),
    Hook(
        "faust.transport.consumer",
        "Consumer",
        "_add_gap",
        "called: the fetch loop records a gap in a partition's offsets as Faust's does",
    ),
    Hook(
        "faust.worker",
        "Worker",
        "_setup_spinner_handler",
        "relied on: adds no DEBUG spinner handler once the worker's spinner is None",
    ),
)
"""Private methods this package overrides, calls or relies on."""

OVERRIDDEN_HOOKS: tuple[Hook, ...] = (
    Hook(AIOKAFKA_CONSUMER, "Consumer", "perform_seek", "overridden: the delivery fence"),
    Hook(
        AIOKAFKA_CONSUMER,
        "Consumer",
        "seek_to_committed",
        "overridden: resume from the checkpoint, rewind what nobody committed",
    ),
    Hook(AIOKAFKA_CONSUMER, "Consumer", "getmany", "overridden: the delivery fence"),
    Hook("faust.app.base", "App", "on_shutdown", "overridden: snapshots in flight finish"),
)
"""Public methods this package overrides: Faust must still call them where it does."""


class AppAttribute(NamedTuple):
    """An undocumented attribute of a Faust app (``owner``: the path to it from the app)."""

    owner: str
    name: str

    @property
    def label(self) -> str:
        return ".".join(part for part in ("app", self.owner, self.name) if part)


APP_INTERNALS: tuple[AppAttribute, ...] = (
    AppAttribute("", "rebalancing"),
    AppAttribute("", "rebalancing_count"),
    AppAttribute("", "consumer_generation_id"),
    AppAttribute("", "maybe_start_producer"),
    AppAttribute("tables", "actives_ready"),
    AppAttribute("tables", "changelog_topics"),
    AppAttribute("assignor", "assigned_actives"),
    AppAttribute("router", "external_topics_metadata"),
    AppAttribute("monitor", "tp_end_offsets"),
    AppAttribute("monitor", "tp_read_offsets"),
    AppAttribute("web", "blueprints"),
    AppAttribute("web", "web_app"),
)
"""Undocumented state of a running app that this package reads or changes. Their names are
used nowhere else: the hooks test flags them outside the package."""

INTERNAL_NAMES: frozenset[str] = frozenset({*(a.name for a in APP_INTERNALS), "spinner"})
"""Attribute names only this package may use (``spinner``: the Faust worker's, see
``worker_logging``)."""
