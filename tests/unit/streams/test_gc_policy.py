"""The worker's garbage-collector policy (``streams.gc_policy``)."""

import gc

import pytest

from streams.gc_policy import OLDER_GENERATIONS, tune_collector


@pytest.fixture
def restored_collector():
    """Whatever a test does to the collector, the process gets CPython's state back after."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_threshold_freezes_start_up_objects_and_spaces_young_collections(restored_collector):
    tune_collector(50_000)

    assert gc.get_threshold() == (50_000, *OLDER_GENERATIONS)
    assert gc.get_freeze_count() > 0


def test_zero_leaves_the_collector_as_cpython_set_it(restored_collector):
    before = gc.get_threshold()

    tune_collector(0)

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
