"""Property: any event stream, cut into any batches, folds to the buckets of a recomputation.

Streams are small and dense on purpose: few deals, customers, reps and instants, so that ties on
occurred_at, reopen/re-win cycles, re-assignments, acquisitions moving between deals and exact
duplicates (redelivered event ids) are all common.
"""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.readout import report
from projections.timebase import BucketGrid
from tests.support.factories import (
    FoldTables,
    bucket_table_of,
    event_streams,
    store_of,
    validated,
)

START = datetime(2026, 3, 31, 21, 0, tzinfo=UTC)  # spans a month, quarter and day end
INSTANTS = [(START + timedelta(minutes=25 * i)).isoformat() for i in range(12)]
ZONES = st.sampled_from(["UTC", "Asia/Kolkata"])


@st.composite
def cuts(draw, length: int) -> list[int]:
    """Batch boundaries: sizes from 1 to the whole stream."""
    sizes = []
    while sum(sizes) < length:
        sizes.append(draw(st.integers(min_value=1, max_value=length)))
    return sizes


def batches_of(stream: list[dict], sizes: list[int]) -> list[list[dict]]:
    out, start = [], 0
    for size in sizes:
        out.append(stream[start : start + size])
        start += size
    return out


@settings(max_examples=250, deadline=None, database=None)
@given(data=st.data(), stream=event_streams(INSTANTS), zone=ZONES)
def test_any_batching_of_any_stream_folds_to_the_buckets_of_a_recompute(data, stream, zone):
    sizes = data.draw(cuts(len(stream)))
    tables = FoldTables(grid=BucketGrid(zone)).feed_batches(batches_of(stream, sizes))
    store = store_of(stream, zone)
    assert tables.buckets == bucket_table_of(store)
    assert set(tables.live_keys) == store.keys()
    now = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
    for key in sorted(store.keys()):
        assert report(tables.lookup, key, now, tables.grid) == report(
            store.lookup, key, now, store.grid
        )


@settings(max_examples=100, deadline=None, database=None)
@given(stream=event_streams(INSTANTS))
def test_batch_sizes_one_seven_and_all_give_identical_tables(stream):
    events = validated(stream)
    runs = [FoldTables().feed_all(events, size) for size in (1, 7, len(events))]
    for run in runs[1:]:
        assert (run.buckets, run.live_keys, run.customers) == (
            runs[0].buckets,
            runs[0].live_keys,
            runs[0].customers,
        )
