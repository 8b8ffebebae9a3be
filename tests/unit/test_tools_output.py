"""Tool output: exit codes and rows rendered as an aligned table, JSON or CSV."""

import csv
import io

import orjson
import pytest

from streams.tools.output import Format, cell_text, render, render_table


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


def test_a_table_aligns_text_left_and_numbers_right_under_a_rule():
    lines = render_table(["id", "revenue"], rows_of(("team-1", 1200.5), ("t-22", 7)))

    assert lines == [
        "id      revenue",
        "------  -------",
        "team-1   1200.5",
        "t-22          7",
    ]


def test_a_column_with_absent_values_still_counts_as_numeric():
    lines = render_table(["id", "ratio"], rows_of(("a", None), ("b", 0.5)))

    assert lines[2:] == ["a", "b     0.5"]


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
