"""Dead letters as the tools see them: headers read back, selections, re-injection, purge plans."""

from datetime import UTC, datetime

import orjson
import pytest

from events.topics import TopicNames, dead_letter_headers
from streams.tools.console import render
from streams.tools.dead_letter_report import (
    LIST_COLUMNS,
    REINJECTED_FROM,
    SUMMARY_COLUMNS,
    Selection,
    dead_letter_of,
    detail,
    list_rows,
    parse_position,
    purge_plan,
    reinjection,
    select,
    summary_rows,
)
from streams.tools.output import Format, render_document, terminal_text
from tests.support.hostile_ids import FORMULA_STARTS, HOSTILE_IDS, is_inert, read_back

NAMES = TopicNames("acme.")
T0 = int(datetime(2026, 2, 14, 10, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def make_letter():
    """Factory: a dead letter as read from the topic, headers written by the workers' helper."""

    def build(offset=0, reason="currency: not rated", source=NAMES.deal_events, **fields):
        headers = dead_letter_headers(reason, source, 3, 40 + offset)
        return dead_letter_of(
            fields.get("partition", 0),
            offset,
            fields.get("timestamp_ms", T0 + offset * 60_000),
            fields.get("key", b"d-1"),
            fields.get("value", b'{"event_id": "e-%d"}' % offset),
            fields.get("headers", headers),
        )

    return build


def test_a_dead_letter_reads_its_reason_and_source_back_from_the_headers(make_letter):
    letter = make_letter(offset=2, reason="key: must be 'd-2' for this deal.created event")

    assert (letter.reason, letter.kind, letter.source_topic) == (
        "key: must be 'd-2' for this deal.created event",
        "key",
        "acme.sales.deal-events",
    )
    assert (letter.source_partition, letter.source_offset, letter.event_id) == (3, 42, "e-2")
    assert letter.position == "0:2"


@pytest.mark.parametrize(
    ("headers", "value", "expected"),
    [
        (None, b"{}", ("?", "?", None, None)),
        ([("x-salespulse-source-offset", b"12a")], b"[1]", ("?", "?", None, None)),
        (dead_letter_headers("value: not valid JSON", "t", 1, 2), b"{x", ("value", "t", 1, None)),
    ],
)
def test_missing_or_garbled_headers_read_as_unknown(make_letter, headers, value, expected):
    letter = make_letter(headers=headers, value=value)
    assert (letter.kind, letter.source_topic, letter.source_partition, letter.event_id) == expected


@pytest.mark.parametrize(("text", "position"), [("0:42", (0, 42)), ("12:0", (12, 0))])
def test_a_position_is_partition_colon_offset(text, position):
    assert parse_position(text) == position


@pytest.mark.parametrize("text", ["42", "a:1", "1:", ":1", "1:-2"])
def test_anything_else_is_not_a_position(text):
    with pytest.raises(ValueError, match="expected PARTITION:OFFSET"):
        parse_position(text)


@pytest.mark.parametrize(
    ("selection", "offsets"),
    [
        (Selection(), [0, 1, 2, 3]),
        (Selection(reason="CURRENCY"), [0, 2]),
        (Selection(source_topic="sales.call-events"), [2]),
        (Selection(source_topic="acme.sales.call-events"), [2]),
        (Selection(since=datetime(2026, 2, 14, 10, 1, tzinfo=UTC)), [1, 2, 3]),
        (Selection(until=datetime(2026, 2, 14, 10, 1, tzinfo=UTC)), [0]),
        (Selection(positions=frozenset({(0, 3), (1, 3)})), [3]),
        (Selection(reason="currency", source_topic="sales.deal-events"), [0]),
    ],
)
def test_a_selection_keeps_the_dead_letters_matching_every_criterion(
    make_letter, selection, offsets
):
    letters = [
        make_letter(0),
        make_letter(1, reason="value: not valid JSON"),
        make_letter(2, source=NAMES.call_events),
        make_letter(3, reason="key: must be 'x'"),
    ]

    assert [x.offset for x in select(letters, selection, NAMES)] == offsets


def test_a_summary_counts_by_source_and_reason_kind_most_first(make_letter):
    letters = [make_letter(0), make_letter(1, reason="value: x"), make_letter(2)]

    rows = summary_rows(letters)

    assert [row[:3] for row in rows] == [
        ["acme.sales.deal-events", "currency", 2],
        ["acme.sales.deal-events", "value", 1],
    ]
    assert rows[0][3:] == ["2026-02-14T10:00:00Z", "2026-02-14T10:02:00Z"]


def test_reinjection_sends_original_key_and_bytes_to_the_source_event_topic_only(make_letter):
    good = make_letter(0)
    internal = make_letter(1, source="acme.salespulse.kpi-deltas")
    tombstone = make_letter(2, value=None)

    outgoing, refused = reinjection([good, internal, tombstone], NAMES, NAMES.dead_letters)

    assert [(o.topic, o.key, o.value) for o in outgoing] == [
        (NAMES.deal_events, b"d-1", b'{"event_id": "e-0"}')
    ]
    assert outgoing[0].headers == ((REINJECTED_FROM, b"acme.sales.dead-letters/0/0"),)
    assert refused == {
        "0:1": "source acme.salespulse.kpi-deltas is not an event topic",
        "0:2": "no value (a tombstone carries no event)",
    }


def test_details_show_a_json_value_as_json_and_other_bytes_as_text(make_letter):
    assert detail(make_letter(0))["value"] == {"event_id": "e-0"}
    assert detail(make_letter(1, value=b"\xffnot json"))["value"] == "\ufffdnot json"


@pytest.mark.parametrize(
    ("before", "plan"),
    [
        (None, {0: 10, 2: 7}),
        ({0: 4}, {0: 4}),
        ({0: 99, 1: 5, 2: 3}, {0: 10}),
        ({0: 2}, {}),
    ],
)
def test_a_purge_deletes_up_to_the_cut_but_never_past_the_end_or_before_the_start(before, plan):
    low, high = {0: 2, 1: 5, 2: 3}, {0: 10, 1: 5, 2: 7}
    assert purge_plan(low, high, before) == plan


@pytest.fixture
def make_hostile_letter(make_letter):
    """Factory: a dead letter whose reason, source, key and event_id all carry ``text``."""

    def build(text: str, offset: int = 0):
        value = orjson.dumps({"event_id": text, "rep_id": text})
        headers = dead_letter_headers(f"{text}: refused {text}", text, 1, 2)
        return make_letter(offset, key=text.encode(), value=value, headers=headers)

    return build


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_hostile_dead_letter_is_listed_inert_in_every_format(make_hostile_letter, fmt, hostile):
    letters = [make_hostile_letter(hostile), make_hostile_letter("e-2", offset=1)]

    text = render(fmt, LIST_COLUMNS, list_rows(letters))

    shown = read_back(fmt, text)
    assert is_inert(text)
    assert len(shown) == 2
    if fmt is Format.json:
        assert shown[0]["reason"] == f"{hostile}: refused {hostile}"
        assert (shown[0]["source"], shown[0]["event_id"], shown[0]["key"]) == (hostile,) * 3
    elif fmt is Format.csv:
        cells = [shown[0][name] for name in ("source", "reason", "event_id", "key")]
        assert not any(cell.startswith(FORMULA_STARTS) for cell in cells)
        assert shown[1]["event_id"] == "e-2"
    else:
        assert f"{terminal_text(hostile)}: refused {terminal_text(hostile)}" in shown[0]
        assert shown[1].startswith("0:1")


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_summary_of_hostile_reasons_is_inert_in_every_format(make_hostile_letter, fmt, hostile):
    letters = [make_hostile_letter(hostile), make_hostile_letter(hostile, offset=1)]

    text = render(fmt, SUMMARY_COLUMNS, summary_rows(letters))

    shown = read_back(fmt, text)
    assert is_inert(text)
    assert len(shown) == 1
    if fmt is Format.json:
        assert (shown[0]["source"], shown[0]["count"]) == (hostile, 2)
    elif fmt is Format.csv:
        assert not shown[0]["source"].startswith(FORMULA_STARTS)
        assert not shown[0]["kind"].startswith(FORMULA_STARTS)
        assert shown[0]["count"] == "2"
    else:
        assert shown[0].startswith(terminal_text(hostile))


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_shown_dead_letter_is_exact_json_that_prints_inert(make_hostile_letter, hostile):
    letter = make_hostile_letter(hostile)

    text = render_document([detail(letter)])

    assert is_inert(text)
    assert orjson.loads(text) == [detail(letter)]
    assert orjson.loads(text)[0]["value"] == {"event_id": hostile, "rep_id": hostile}
