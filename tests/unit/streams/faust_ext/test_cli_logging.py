"""The worker's logging: no logger left at DEBUG below a higher configured level."""

import logging

import faust
import pytest
from faust.worker import Worker

from streams.faust_ext.worker_logging import without_spinner


@pytest.mark.parametrize("level", ["WARNING", "ERROR"])
def test_a_worker_at_warning_or_above_leaves_the_logger_at_that_level(level):
    app = faust.App("probe-app", autodiscover=False)
    worker = without_spinner(Worker(app, loglevel=level, quiet=True))
    probe = logging.getLogger(f"salespulse-probe-{level}")
    probe.setLevel(level)
    probe.handlers = [logging.NullHandler()]
    worker.on_setup_root_logger(probe, logging.getLevelName(level))
    assert probe.level == logging.getLevelName(level)
    assert not probe.isEnabledFor(logging.DEBUG)
    assert [type(handler) for handler in probe.handlers] == [logging.NullHandler]
