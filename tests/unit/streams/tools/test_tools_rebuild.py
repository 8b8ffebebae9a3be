"""``salespulse rebuild``: the log recomputed offline, and KPI sets compared."""

from collections import namedtuple

import pytest

from events.models import EventPolicy
from events.settings import Settings
from events.topics import TopicNames
from projections.timebase import BucketGrid
from streams.tools.console import render
from streams.tools.output import Format, terminal_text
from streams.tools.rebuild import (
    DIFF_COLUMNS,
    kpi_differences,
    no_kpis,
    offline_kpis,
    recompute_log,
)
from tests.support.golden import GOLDEN_AS_OF, golden_expected, golden_messages
from tests.support.hostile_ids import FORMULA_STARTS, HOSTILE_IDS, is_inert, read_back
from tests.support.kpis import kpi_mismatches, vocabulary

Record = namedtuple("Record", "topic key value")
NAMES = TopicNames("t.")
POLICY = EventPolicy(clock=lambda: GOLDEN_AS_OF)


def test_the_golden_log_recomputed_offline_gives_every_expected_kpi_and_skips_the_invalid():
    records = [Record(*message) for message in golden_messages(NAMES)]
    expected = golden_expected()

    store, skipped = recompute_log(records, POLICY, NAMES, BucketGrid())

    got = offline_kpis(store, store.keys(), GOLDEN_AS_OF)
    assert sum(skipped.values()) == 8
    assert set(got) == set(expected["kpis"])
    names = vocabulary(expected["kpis"])  # a v1 file: contract v2's KPIs are not in it
    known = {key: {n: v for n, v in kpis.items() if n in names} for key, kpis in got.items()}
    assert [p for k, want in expected["kpis"].items() for p in kpi_mismatches(known[k], want)] == []


def test_a_record_on_the_wrong_topic_or_key_is_skipped_like_the_workers_dead_letter_it():
    event = b'{"event_id":"e","type":"call.logged","occurred_at":"2026-02-14T10:00:00Z",' \
        b'"rep_id":"r","team_id":"t"}'  # fmt: skip
    records = [
        Record(NAMES.deal_events, b"r", event),
        Record(NAMES.call_events, b"other", event),
        Record(NAMES.call_events, b"r", event),
    ]

    store, skipped = recompute_log(records, POLICY, NAMES, BucketGrid())

    assert skipped == {"type": 1, "key": 1}
    assert offline_kpis(store, ["rep|r"], GOLDEN_AS_OF)["rep|r|24h"]["calls"] == 1


@pytest.mark.parametrize(
    ("left", "right", "rows"),
    [
        ({"team|a|1h": {"revenue": 1.0}}, {"team|a|1h": {"revenue": 1.0 + 1e-12}}, []),
        (
            {"team|a|1h": {"revenue": 1.0}},
            {"team|a|1h": {"revenue": 1.1}},
            [["team|a|1h", "revenue", 1.0, 1.1]],
        ),
        (
            {"team|a|1h": {"win_ratio": 0.5}},
            {"team|a|1h": {}},
            [["team|a|1h", "win_ratio", 0.5, None]],
        ),
        ({"team|a|1h": no_kpis("team")}, {}, []),
        ({}, {"rep|r|7d": {**no_kpis("rep"), "calls": 2}}, [["rep|r|7d", "calls", 0, 2]]),
        ({"company||qtd": {"cac": 0.0}}, {"company||qtd": {"cac": 0}}, []),
    ],
)
def test_two_kpi_sets_differ_where_a_value_differs_beyond_1e_9_or_is_absent_on_one_side(
    left, right, rows
):
    assert kpi_differences(left, right) == rows


@pytest.mark.parametrize(
    ("prefix", "generation", "app_id"),
    [
        ("", "", "salespulse"),
        ("acme.", "", "acme.salespulse"),
        ("acme.", "g2", "acme.salespulse.g2"),
    ],
)
def test_a_table_generation_gives_the_workers_their_own_group_and_internal_topics(
    prefix, generation, app_id
):
    assert Settings(topic_prefix=prefix, table_generation=generation).app_id == app_id


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_difference_on_a_hostile_key_is_printed_inert_in_every_format(fmt, hostile):
    key = f"rep|{hostile}|30d"
    rows = kpi_differences({key: {**no_kpis("rep"), "revenue": -3.5}}, {key: no_kpis("rep")})

    text = render(fmt, DIFF_COLUMNS, rows)

    shown = read_back(fmt, text)
    assert is_inert(text)
    assert len(shown) == 1
    if fmt is Format.json:
        assert shown == [{"key": key, "kpi": "revenue", "left": -3.5, "right": 0}]
    elif fmt is Format.csv:
        assert not shown[0]["key"].startswith(FORMULA_STARTS)
        assert (shown[0]["left"], shown[0]["right"]) == ("-3.5", "0")
    else:
        assert shown[0].startswith(terminal_text(key))
