"""The chaos suite's own yardsticks, checked without any process: if these were wrong, a scenario
could pass or fail for the wrong reason."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson

from events.topics import TopicNames
from projections.timebase import BucketGrid
from projections.windows import window_bounds
from tests.chaos.audit import ledger_tiles
from tests.chaos.history import CHAOS_AS_OF, size_history, validated
from tests.chaos.observe import replay_since
from tests.support.chaos_inputs import ONE_MB, duplicated_plan, poison_for


def test_ledger_tiles_cover_the_history_with_back_to_back_30_day_windows():
    first = datetime(2026, 1, 3, 17, 45, tzinfo=UTC)
    tiles = ledger_tiles(first, CHAOS_AS_OF)
    spans = [window_bounds("30d", tile, BucketGrid("UTC")) for tile in tiles]
    assert spans[0][0] == datetime(2026, 1, 3, tzinfo=UTC)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert spans[-1][1] > CHAOS_AS_OF


def test_a_history_is_deterministic_valid_and_ends_by_the_fixed_as_of():
    events = size_history(3_000, seed=5)
    assert events == size_history(3_000, seed=5)
    assert 2_000 < len(events) < 4_000
    assert len({e["event_id"] for e in events}) == len(events)
    typed = validated(events)
    assert max(e.occurred_at for e in typed) <= CHAOS_AS_OF
    assert min(e.occurred_at for e in typed) >= CHAOS_AS_OF - timedelta(days=121)


def test_the_duplicate_plan_sends_each_event_by_both_paths_two_or_three_times():
    events = size_history(3_000, seed=6)
    plan = duplicated_plan(events, random.Random(1))
    paths: dict[str, list[str]] = {}
    for path, segment in plan:
        for event in segment:
            paths.setdefault(event["event_id"], []).append(path)
    assert set(paths) == {e["event_id"] for e in events}
    assert all(2 <= len(p) <= 3 and {"api", "topic"} <= set(p) for p in paths.values())
    firsts = {p[0] for p in paths.values()}
    assert firsts == {"api", "topic"}, "either path delivers first"


def test_the_poison_covers_every_topic_with_five_kinds_and_one_mb_values():
    names = TopicNames("p.")
    poison = poison_for(names)
    assert {topic for _, topic, _, _, _ in poison} == set(names.event_topics)
    assert len({kind for kind, *_ in poison}) == 15
    big = [value for kind, _, _, value, _ in poison if kind.endswith("/1mb")]
    assert [len(v) for v in big] == [ONE_MB] * 3
    assert all(isinstance(orjson.loads(v), dict) for v in big)


RESUME_LOG = """\
[2026-12-05 16:13:12,818] [20601] [INFO] state resume: 20 input partitions, 20 from a checkpoint, \
replaying 12 of 4000 committed records
[2026-12-05 16:13:13,000] [20601] [INFO] [^Worker]: Ready
[2026-12-05 16:13:19,818] [20601] [INFO] state resume: 10 input partitions, 0 from a checkpoint, \
replaying 0 of 2100 committed records
"""


def test_replayed_input_records_are_read_from_the_state_engines_resume_lines(tmp_path):
    log = tmp_path / "worker-0.log"
    log.write_text("earlier start, not counted\n" + RESUME_LOG, encoding="utf-8")
    replay = replay_since(log, len(b"earlier start, not counted\n"))
    assert (replay.replayed, replay.committed, replay.recoveries) == (12, 6100, 2)
