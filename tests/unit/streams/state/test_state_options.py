"""The state's memory budget (setting ``state_memory_mb``) split over the store's caches."""

from __future__ import annotations

import pytest

from streams.state.options import MIB, StoreLimits


@pytest.mark.parametrize("budget_mb", [4, 32, 128, 256, 1024])
def test_the_caches_and_buffers_together_stay_within_the_budget(budget_mb):
    limits = StoreLimits.within(budget_mb)
    assert limits.budget_bytes <= budget_mb * MIB
    assert limits.memtable_bytes <= limits.write_buffer_bytes


def test_a_budget_of_256_mib_keeps_the_sizes_a_worker_had_before_the_setting():
    limits = StoreLimits.within(256)
    defaults = StoreLimits()
    assert limits.block_cache_bytes == defaults.block_cache_bytes == 64 * MIB
    assert limits.write_buffer_bytes == defaults.write_buffer_bytes
    assert limits.memtable_bytes == defaults.memtable_bytes
    assert limits.cached_bytes == defaults.cached_bytes
    assert limits.dirty_bytes == defaults.dirty_bytes


@pytest.mark.parametrize("budget_mb", [1, 2])
def test_a_tiny_budget_still_leaves_every_cache_a_usable_size(budget_mb):
    limits = StoreLimits.within(budget_mb)
    assert limits.block_cache_bytes >= MIB
    assert limits.memtable_bytes >= MIB // 4
    assert limits.cached_values >= 1_000
