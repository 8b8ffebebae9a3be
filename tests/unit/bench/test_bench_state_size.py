"""The bench's live state count reads a worker's DB beside it, bookkeeping apart."""

from __future__ import annotations

from rocksdict import Rdict

from bench.state_size import live_state
from streams.state.options import StoreLimits, db_options
from streams.state.store import STATE_DIR


def test_live_state_counts_values_per_column_family_without_the_bookkeeping(tmp_path):
    path = tmp_path / "app-id" / STATE_DIR
    path.mkdir(parents=True)
    options, families = db_options(StoreLimits())
    db = Rdict(str(path), options=options, column_families=families)
    days, pending = db.get_column_family("days"), db.get_column_family("pending")
    days[b"k1"], days[b"k2"] = b"12345", b"6"
    pending[b"p"] = b"x"
    try:
        state = live_state(tmp_path)  # the writer still holds the DB, as a running worker does
    finally:
        del days, pending
        db.close()
    assert state.count("days") == 2 and state.count("pending") == 1
    assert state.values == 2 and state.bytes == len(b"k1k212345") + 1
    assert state.describe() == "days 2"


def test_no_db_means_no_state(tmp_path):
    assert live_state(tmp_path).values == 0
