"""A deterministic model of one worker: five agents, fake partitioned logs, crashes and restores.

Why: state engine v2 (docs/design/state-engine-v2.md, sections 7 and 11.3) restores an agent's
partition from *any* durable state of its own (latest or older checkpoint, a spill that is ahead
of its offsets, a snapshot) and replays its input from that state's offsets. Its exactness rests
on invariants I1-I4 of today's pure folds (``streams.folds``), so this model drives those folds
through the agents' own per-partition steps (``streams.apply_steps``, as ``streams.pipeline``
does, with the same encodings of customer-wins and kpi-deltas: ``tests.support.replay_agents``) and
lets a schedule of ``Step``s interleave batches, producer flushes, checkpoints, spills and
crashes. Everything is in memory and deterministic: a schedule is a plain list a test can print.

A durable state (``Image``) of one agent's partition is a deep copy of the partition's tables plus
the next input offset. A checkpoint flushes the agent's producer first (I2), then records every
partition; a spill records a subset of the current values over the latest image, keeping its
offsets (I1: ahead is allowed). A crash delivers a prefix of each destination's in-flight output,
drops the rest, and restores each partition to an image of its own chosen by the step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from projections.timebase import BucketGrid
from streams.kpi_apply import KpiApply
from streams.routing import parse_composite_key, partition_of
from tests.support.agent_fakes import DayDict, RangeDict
from tests.support.replay_agents import (
    HANDLERS,
    INTERPRETED,
    Batch,
    Output,
    apply_kpis,
    placement,
)

AGENTS = ("fold-deals", "fold-calls", "fold-costs", "fold-customers", "apply-kpis")
"""In the order a drain runs them: every agent's inputs come from the agents before it."""
WORKER = "worker"
"""``Step.agent`` meaning every agent at once (a worker-wide commit or kill -9)."""
SOURCES = {
    "fold-deals": "deal-events",
    "fold-calls": "call-events",
    "fold-costs": "cost-events",
    "fold-customers": "customer-wins",
    "apply-kpis": "kpi-deltas",
}


def routing_identity(key: str) -> str:
    """A deal id, a customer id or a scope key is its own routing key."""
    return key


def routing_of_composite(key: str) -> str:
    """A seen event's key is [routing key, event id]."""
    return parse_composite_key(key)[0]


def day_routing(key: tuple[str, int]) -> str:
    """A day value's key is (scope key, day): it lives where its scope key does."""
    return key[0]


ROUTES: dict[str, dict[str, Callable[[Any], str]]] = {
    "fold-deals": {"deals": routing_identity},
    "fold-calls": {"seen": routing_of_composite},
    "fold-costs": {"seen": routing_of_composite},
    "fold-customers": {"customers": routing_identity},
    "apply-kpis": {
        "days": day_routing,
        "stocks": routing_identity,
        "live_keys": routing_identity,
        "day_ix": routing_identity,
    },
}
"""Tables of each agent and the routing key of a table key (its partition, ``streams.app``)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One move of a schedule; ``size`` and ``picks`` are read modulo what is there.

    Actions: ``batch`` (up to ``1 + picks[p] % (size + 1)`` records of each partition p), ``flush``
    (the first ``size`` in-flight outputs reach their logs), ``checkpoint``, ``spill`` (key i of
    partition p is written when bit i % 8 of ``picks[p]`` is set), ``crash`` (each destination
    receives its first ``size`` in-flight outputs, partition p restores the image ``depth``
    chooses with ``picks[p]``). Violations, for the tests that show the model detects them:
    ``unflushed-checkpoint`` (breaks I2: in-flight outputs are dropped, offsets recorded) and
    ``behind-checkpoint`` (breaks I1: the latest image's tables with the current offsets).
    """

    action: str
    agent: str
    size: int = 0
    picks: tuple[int, ...] = (0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Image:
    """A durable state of one partition of one agent: its tables and its next input offset."""

    tables: dict[str, dict]
    offset: int
    kind: str


class Log:
    """A topic: append-only partitions of records."""

    def __init__(self, partitions: int) -> None:
        self.partitions: list[list[Any]] = [[] for _ in range(partitions)]

    def append(self, partition: int, record: Any) -> None:
        self.partitions[partition].append(record)


class PartitionedTable(MutableMapping):
    """One table of an agent, each key kept in the partition of its routing key.

    The folds see one mapping, as they see a Faust table; durable states are taken per partition.
    """

    def __init__(
        self, partitions: int, routing: Callable[[str], str], kind: type[dict] = RangeDict
    ) -> None:
        self.parts: list[dict] = [kind() for _ in range(partitions)]
        self.routing = routing

    def _part(self, key: str) -> dict:
        return self.parts[partition_of(self.routing(key), len(self.parts))]

    def __getitem__(self, key: str) -> Any:
        return self._part(key)[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._part(key)[key] = value

    def __delitem__(self, key: str) -> None:
        del self._part(key)[key]

    def __iter__(self) -> Iterator[str]:
        return (key for part in self.parts for key in part)

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)


class Agent:
    """One agent of the worker: its input position, tables, producer buffer and durable states."""

    def __init__(self, name: str, source: Log, fold: Callable[[dict, Batch], list[Output]]):
        self.name, self.source, self.fold = name, source, fold
        count = len(source.partitions)
        self.tables = {
            t: PartitionedTable(count, r, DayDict if t == "days" else RangeDict)
            for t, r in ROUTES[name].items()
        }
        self.positions = [0] * count
        self.in_flight: list[Output] = []
        self.history = [[self.image(p, "initial")] for p in range(count)]

    def image(self, partition: int, kind: str) -> Image:
        tables = {name: table.parts[partition] for name, table in self.tables.items()}
        return Image(copy.deepcopy(tables), self.positions[partition], kind)

    def take(self, size: int, picks: tuple[int, ...]) -> Batch:
        """(partition, offset, record) of the next batch, partitions interleaved."""
        wanted = [1 + picks[p % len(picks)] % (size + 1) for p in range(len(self.positions))]
        batch = []
        for _ in range(max(wanted, default=0)):
            for p, records in enumerate(self.source.partitions):
                if wanted[p] > 0 and self.positions[p] < len(records):
                    batch.append((p, self.positions[p], records[self.positions[p]]))
                    self.positions[p] += 1
                    wanted[p] -= 1
        return batch

    def has_input(self) -> bool:
        logs = self.source.partitions
        return any(at < len(records) for at, records in zip(self.positions, logs, strict=True))

    def spill(self, picks: tuple[int, ...]) -> None:
        for p, images in enumerate(self.history):
            mask = picks[p % len(picks)]
            tables = copy.deepcopy(images[-1].tables)
            for name, table in self.tables.items():
                for i, key in enumerate(sorted(table.parts[p])):
                    if (mask >> (i % 8)) & 1:
                        tables[name][key] = copy.deepcopy(table.parts[p][key])
            images.append(Image(tables, images[-1].offset, "spill"))

    def restore(self, picks: tuple[int, ...]) -> None:
        for p, images in enumerate(self.history):
            chosen = images[-1 - depth(picks[p % len(picks)], len(images))]
            for name, table in self.tables.items():
                table.parts[p] = copy.deepcopy(chosen.tables[name])
            self.positions[p] = chosen.offset
            images.append(replace(chosen, kind=f"restored {chosen.kind.removeprefix('restored ')}"))


class Worker:
    """The five agents over their logs; ``run`` plays a schedule, ``drain`` reaches quiet."""

    def __init__(
        self,
        events: list,
        partitions: int,
        grid: BucketGrid,
        retention_days: int | None = None,
        kpi_apply: KpiApply = INTERPRETED,
    ) -> None:
        """``retention_days`` None: the agents keep everything (the model before retention);
        ``kpi_apply``: how apply-kpis reads and applies (``streams.kpi_apply``)."""
        self.partitions, self.grid = partitions, grid
        self.logs = {topic: Log(partitions) for topic in SOURCES.values()}
        for event in events:
            topic, routing_key = placement(event)
            self.logs[topic].append(partition_of(routing_key, partitions), event)
        common = {"partitions": partitions, "grid": grid, "retention_days": retention_days}
        handlers = {name: partial(HANDLERS[name], **common) for name in AGENTS}
        handlers["apply-kpis"] = partial(apply_kpis, **common, kpi_apply=kpi_apply)
        self.agents = {
            name: Agent(name, self.logs[SOURCES[name]], handlers[name]) for name in AGENTS
        }

    def run(self, schedule: list[Step]) -> Worker:
        for step in schedule:
            for name in AGENTS if step.agent == WORKER else (step.agent,):
                self.play(self.agents[name], step)
        return self

    def play(self, agent: Agent, step: Step) -> None:
        if step.action == "batch":
            agent.in_flight += agent.fold(agent.tables, agent.take(step.size, step.picks))
        elif step.action == "flush":
            self.deliver(agent, agent.in_flight[: step.size])
            agent.in_flight = agent.in_flight[step.size :]
        elif step.action == "checkpoint":
            self.deliver(agent, agent.in_flight)
            agent.in_flight = []
            self.record(agent, "checkpoint")
        elif step.action == "spill":
            agent.spill(step.picks)
        elif step.action == "crash":
            self.deliver(agent, prefixes(agent.in_flight, step.size))
            agent.in_flight = []
            agent.restore(step.picks)
        else:
            self.violate(agent, step.action)

    def violate(self, agent: Agent, action: str) -> None:
        if action == "unflushed-checkpoint":
            agent.in_flight = []
            self.record(agent, "checkpoint")
        elif action == "behind-checkpoint":
            for p, images in enumerate(agent.history):
                images.append(replace(images[-1], offset=agent.positions[p], kind="behind"))
        else:
            raise ValueError(f"unknown action {action!r}")

    @staticmethod
    def record(agent: Agent, kind: str) -> None:
        for p, images in enumerate(agent.history):
            images.append(agent.image(p, kind))

    def deliver(self, agent: Agent, outputs: list[Output]) -> None:
        for output in outputs:
            self.logs[output.topic].append(output.partition, (output.key, output.value))

    def drain(self) -> Worker:
        """Every agent folds all its input and checkpoints, until no input is left anywhere."""
        while any(agent.has_input() or agent.in_flight for agent in self.agents.values()):
            for agent in self.agents.values():
                while agent.has_input():
                    self.play(agent, Step("batch", agent.name, 3, (3, 3, 3, 3)))
                self.play(agent, Step("checkpoint", agent.name))
        return self


def depth(pick: int, count: int) -> int:
    """How many images back a crash restores: mostly one of the 4 newest (a spill or the last
    checkpoints: the replays that meet ahead state), one pick in four any image, the empty one
    of a fresh host included."""
    return pick % min(count, 4) if pick < 192 else pick % count


def prefixes(outputs: list[Output], size: int) -> list[Output]:
    """What a crash lets through: the first ``size`` in-flight outputs of each destination."""
    sent: dict[tuple[str, int], int] = {}
    through = []
    for output in outputs:
        destination = (output.topic, output.partition)
        if sent.get(destination, 0) < size:
            sent[destination] = sent.get(destination, 0) + 1
            through.append(output)
    return through
