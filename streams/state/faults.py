"""Test-only crash points: a worker that kills itself (SIGKILL) inside a checkpoint, a spill or
a snapshot.

Chaos scenario 1b (design state-engine-v2 §7) must kill a worker at the moments that decide
whether a restart stays exact: after the producer flush but before the checkpoint batch, after
the batch but before the Kafka commit, right after a spill batch (values without meta), and
(chaos 7b) between a snapshot's chunks and its manifest. A kill -9 from outside lands there only
by luck, so the worker takes it from the setting ``SALESPULSE_FAULT_KILL_AT=<point>:<n>``: it
kills itself the n-th time it reaches ``point``.
Unset (the default, and always in production) the switch is ``NO_FAULTS``, which does nothing.
The list of points and the setting's pattern live with the setting (``events.settings``: the
events layer cannot import the runtime); the names below are how the runtime reaches them.
"""

from __future__ import annotations

import os
import re
import signal

from events.settings import FAULT_POINTS, FAULT_SETTING_PATTERN

BEFORE_CHECKPOINT_WRITE = "before-checkpoint-write"
"""The producer is flushed (outputs on Kafka), the checkpoint batch not yet written."""
AFTER_CHECKPOINT_WRITE = "after-checkpoint-write"
"""The checkpoint batch is written, the Kafka commit not yet made."""
IN_SPILL = "in-spill"
"""A spill batch is written: the stored values are ahead of the stored offsets."""
IN_SNAPSHOT = "in-snapshot"
"""A snapshot's chunks are acknowledged, its manifest not yet sent (chaos 7b)."""

SPEC = re.compile(FAULT_SETTING_PATTERN)
"""What the setting ``fault_kill_at`` accepts: ``<point>:<n>`` with n ≥ 1, or empty (off)."""


class FaultSwitch:
    """The switch when faults are off: reaching a point does nothing."""

    def reached(self, point: str) -> None:
        """Called by the store and the commit hook at each crash point; off, a no-op."""


NO_FAULTS = FaultSwitch()


class KillSwitch(FaultSwitch):
    """Counts how often ``point`` is reached and SIGKILLs this process the ``at``-th time."""

    def __init__(self, point: str, at: int) -> None:
        if point not in FAULT_POINTS:
            raise ValueError(f"unknown fault point {point!r}: one of {', '.join(FAULT_POINTS)}")
        if at < 1:
            raise ValueError(f"a fault point is reached the 1st time or later, not {at}")
        self.point, self.at, self.count = point, at, 0

    def reached(self, point: str) -> None:
        """Count ``point`` if it is this switch's; at the ``at``-th time, kill -9 this process
        (no shutdown, no flush, no commit: what a crash leaves is what the test checks)."""
        if point != self.point:
            return
        self.count += 1
        if self.count == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


def kill_switch(spec: str) -> FaultSwitch:
    """The switch a ``fault_kill_at`` setting names: ``""`` is ``NO_FAULTS``, ``<point>:<n>`` a
    ``KillSwitch``; anything else raises ``ValueError``."""
    if not spec:
        return NO_FAULTS
    match = SPEC.match(spec)
    if match is None or match["point"] is None:
        raise ValueError(
            f"fault_kill_at {spec!r}: expected '<point>:<n>' with n >= 1 and point one of "
            f"{', '.join(FAULT_POINTS)}"
        )
    return KillSwitch(match["point"], int(match["at"]))
