"""Is a worker that is not ready still getting somewhere? The answer of its ``/healthz``.

After a broker restart a worker can stay unready indefinitely: a rebalance that never completes,
or a replay of its partitions that makes no progress (the records its apply agent must read
again before its KPIs are current, ``StateEngine.replay_remaining``). Such a worker runs, answers
HTTP and owns nothing. ``Liveness`` watches readiness and that progress: unready with no progress
for ``stuck_after_s`` is *stuck*, ``/healthz`` answers 503, and an orchestrator's liveness probe
restarts the worker, which is safe because a restart is a replay (docs/GUARANTEES.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Liveness:
    stuck_after_s: float
    """0 disables the verdict (a worker is then never reported stuck)."""
    _unready_since: float | None = None
    """Start of the current unready stretch without recovery progress."""
    _remaining: int | None = None

    def observe(self, now: float, ready: bool, remaining: int | None) -> None:
        """One sample: readiness and the records the replay still has to read."""
        if ready:
            self._unready_since = self._remaining = None
        elif self._unready_since is None or remaining != self._remaining:
            self._unready_since, self._remaining = now, remaining

    def stuck_for(self, now: float) -> float:
        return 0.0 if self._unready_since is None else now - self._unready_since

    def is_stuck(self, now: float) -> bool:
        return self.stuck_after_s > 0 and self.stuck_for(now) >= self.stuck_after_s
