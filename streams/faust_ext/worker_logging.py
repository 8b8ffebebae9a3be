"""A Faust worker run as a service: no terminal spinner behind the configured log level.

At WARNING and above, Faust's worker adds a spinner handler at DEBUG and sets the root logger to
DEBUG (``faust.Worker._setup_spinner_handler``, skipped when the worker has no ``spinner``), so
every ``log.debug`` of Faust and aiokafka (several per record sent) builds a log record only to
turn the spinner (its cost: docs/BENCHMARKS.md, proposal 8). A worker run as a service has no use
for it.
"""

from __future__ import annotations

from typing import Any

from faust.worker import Worker


def without_spinner(worker: Worker) -> Worker:
    """``worker``, leaving the root logger at the configured level."""
    worker.spinner = None
    return worker


def service_worker(app: Any, loglevel: str) -> Worker:
    """The Faust worker that runs ``app`` from the command line, without spinner."""
    return without_spinner(Worker(app, loglevel=loglevel, quiet=True))
