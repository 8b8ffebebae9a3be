"""Is a worker that is not ready still getting somewhere? The answer of its ``/healthz``.

After a broker restart Faust can stay in table recovery indefinitely: it waits for the changelogs
to be read with no deadline, and the steps before that give up silently after the request
timeout. Such a worker runs, answers HTTP and owns nothing. ``Liveness`` watches readiness and
recovery progress (changelog records still to read): unready with no progress for
``stuck_after_s`` is *stuck*, ``/healthz`` answers 503, and an orchestrator's liveness probe
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
        """One sample: readiness and the changelog records recovery still has to read."""
        if ready:
            self._unready_since = self._remaining = None
        elif self._unready_since is None or remaining != self._remaining:
            self._unready_since, self._remaining = now, remaining

    def stuck_for(self, now: float) -> float:
        return 0.0 if self._unready_since is None else now - self._unready_since

    def is_stuck(self, now: float) -> bool:
        return self.stuck_after_s > 0 and self.stuck_for(now) >= self.stuck_after_s
