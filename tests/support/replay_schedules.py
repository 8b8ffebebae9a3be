"""Hypothesis strategies of the replay model's schedules (``tests.support.replay_model``).

A schedule is rounds of one step per agent in pipeline order, then one for the whole worker:
upstream output reaches downstream agents in the same run, as in a worker where all agents
progress. Batches come most often; every other move (flush, checkpoint, spill, crash) often
enough to meet the others.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.support.replay_model import AGENTS, WORKER, Step

ACTIONS = [*["batch"] * 4, *["flush", "checkpoint", "spill", "crash"] * 2]


def steps_of(agent: str) -> st.SearchStrategy[Step]:
    return st.builds(
        Step,
        action=st.sampled_from(ACTIONS),
        agent=st.just(agent),
        size=st.integers(min_value=0, max_value=6),
        picks=st.tuples(*[st.integers(min_value=0, max_value=255)] * 4),
    )


def schedules(min_rounds: int, max_rounds: int) -> st.SearchStrategy[list[Step]]:
    return st.lists(
        st.tuples(*map(steps_of, [*AGENTS, WORKER])), min_size=min_rounds, max_size=max_rounds
    ).map(lambda rounds: [step for round_ in rounds for step in round_])
