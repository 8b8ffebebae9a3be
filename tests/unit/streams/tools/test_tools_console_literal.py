"""What the tools print reaches the terminal literally: no markup, emoji, or control characters."""

import csv
import io

import orjson
import pytest
import typer
from rich.progress import Progress

from streams.tools.console import (
    DescriptionColumn,
    fail,
    note,
    print_rows,
    say,
    stderr,
    stdout,
    warn,
)
from streams.tools.output import Exit, Format, terminal_text

HOSTILE_IDS = [
    "\x1b[2J\x1b[Hrep-1",
    "\x1b]8;;https://evil.example/\x07rep-1\x1b]8;;\x07",
    "evil\rrep-1\x07",
    "\x9b31mrep-1\x7f",
    "\u202e1-per",
    "[red]rep-1[/red]",
    "[link=https://evil.example]rep-1[/link]",
    "rep:100:1",
    '=HYPERLINK("https://evil.example","rep-1")',
]


@pytest.fixture(autouse=True)
def plain_streams(monkeypatch):
    """Captured streams are not terminals: no colour codes, whatever the environment asks."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def printed(capsys):
    """Factory: print a rendered result in a format, return what reached stdout."""

    def print_in(fmt: Format, rows: list[list]) -> str:
        print_rows(fmt, ["id", "delta"], rows)
        return capsys.readouterr().out

    return print_in


def is_inert(text: str) -> bool:
    return all(line.isprintable() for line in text.split("\n"))


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_printed_json_parses_back_to_the_exact_ids(printed, hostile):
    out = printed(Format.json, [[hostile, -3.5]])

    assert is_inert(out)
    assert orjson.loads(out) == [{"id": hostile, "delta": -3.5}]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_printed_table_has_one_inert_line_per_row(printed, hostile):
    out = printed(Format.table, [[hostile, -3.5], ["rep-2", 1]])

    assert is_inert(out)
    assert len(out.splitlines()) == 4
    assert out.splitlines()[3].startswith("rep-2")


@pytest.mark.parametrize("literal", ["[red]rep-1[/red]", "rep:100:1", "[link=https://e.x]a[/link]"])
def test_markup_and_emoji_codes_in_an_id_are_printed_as_written(printed, literal):
    assert printed(Format.table, [[literal, 1]]).splitlines()[2].startswith(literal)
    assert list(csv.reader(io.StringIO(printed(Format.csv, [[literal, 1]]))))[1] == [literal, "1"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_printed_csv_has_no_formula_and_no_control_character(printed, hostile):
    out = printed(Format.csv, [[hostile, -3.5]])

    cell, delta = list(csv.reader(io.StringIO(out)))[1]
    assert is_inert(out)
    assert not cell.startswith(("=", "+", "-", "@"))
    assert delta == "-3.5"


@pytest.mark.parametrize("speak", [warn, note, say])
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_a_message_quoting_a_hostile_id_is_one_literal_line(capsys, speak, hostile):
    speak(f"no KPIs for id {hostile}\nerror: forged line")

    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert is_inert(out)
    assert len(out.splitlines()) == 1
    assert f"{terminal_text(hostile)}\\nerror: forged line" in out


def test_a_failure_quoting_a_peer_message_is_literal_and_exits_with_its_code(capsys):
    with pytest.raises(typer.Exit) as raised:
        fail("worker said: \x1b]8;;https://evil.example/\x07[bold]click[/bold]", Exit.UNAVAILABLE)

    err = capsys.readouterr().err
    assert raised.value.exit_code == 3
    assert err == ("error: worker said: \\x1b]8;;https://evil.example/\\x07[bold]click[/bold]\n")


@pytest.mark.parametrize("console", [stdout, stderr])
def test_a_console_print_without_options_still_prints_text_literally(capsys, console):
    console().print("[bold]3[/bold] :100: \x1b[2J records\r")

    captured = capsys.readouterr()
    assert (captured.out + captured.err) == "[bold]3[/bold] :100: \\x1b[2J records\\r\n"


def test_a_progress_description_naming_a_topic_is_shown_literally():
    with Progress(DescriptionColumn(), disable=True) as bar:
        task = bar.add_task("reading [red]\x1b[2Jtopic", total=None)
        shown = DescriptionColumn().render(bar.tasks[task])

    assert shown.plain == "reading [red]\\x1b[2Jtopic"
    assert shown.spans == []
