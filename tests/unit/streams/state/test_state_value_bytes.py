"""What one stored table value costs in memory: the store keeps many of them (value cache,
changed values), so each must hold its own bytes, not a serializer's write buffer."""

from __future__ import annotations

import tracemalloc

import pytest

from streams.state.tables import decode_value, encode_value

DEAL = {"events": [["e-1", 1_767_225_600_000_000, 42, "created", {"rep_id": "r1", "amount": 9}]]}


@pytest.mark.parametrize(
    "value", [DEAL, ["rep-1", "call-7"], {"wins": [[1, "r", "t", "linkedin"]]}, 1 << 70]
)
def test_a_stored_value_takes_about_its_length_in_memory(value):
    tracemalloc.start()
    try:
        kept = [encode_value(value) for _ in range(1_000)]
        allocated, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_value = allocated / len(kept)
    assert per_value < len(kept[0]) + 200
    assert decode_value(kept[0]) == value
