"""``salespulse kpis`` and ``dead-letters list`` end to end, fed hostile ids by fake peers.

The worker is an ``httpx.MockTransport`` and the dead-letter topic a fake reader, so these stay
pure; what is checked is what reaches the operator's stdout and stderr.
"""

from __future__ import annotations

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from events.topics import dead_letter_headers
from streams.cli import cli
from streams.tools import cli_dead_letters, cli_kpis
from streams.tools.dead_letter_report import dead_letter_of
from streams.tools.output import Format, terminal_text
from streams.tools.worker_api import WorkerApi
from tests.support.hostile_ids import FORMULA_STARTS, HOSTILE_IDS, is_inert, read_back


@pytest.fixture(autouse=True)
def plain_streams(monkeypatch):
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "SALESPULSE_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_worker(monkeypatch):
    """Factory: make ``salespulse kpis`` talk to a worker knowing the reps ``ids``."""

    def serve(ids: list[str], error_body: str | None = None) -> None:
        def answer(request: httpx.Request) -> httpx.Response:
            if error_body is not None:
                return httpx.Response(500, text=error_body)
            if request.url.path == "/v1/keys":
                keys = [{"scope": "rep", "id": scope_id} for scope_id in ids]
                return httpx.Response(200, json={"keys": keys, "complete": True})
            scope_id = request.url.params["id"]
            revenue = -3.5 * (ids.index(scope_id) + 1)
            return httpx.Response(200, json={"id": scope_id, "kpis": {"revenue": revenue}})

        def api(url: str, token: str | None = None) -> WorkerApi:
            return WorkerApi(url, token, transport=httpx.MockTransport(answer))

        monkeypatch.setattr(cli_kpis, "WorkerApi", api)

    return serve


@pytest.fixture
def fake_dead_letters(monkeypatch):
    """Factory: make ``salespulse dead-letters`` read letters whose fields carry ``texts``."""

    def serve(texts: list[str]) -> None:
        letters = [
            dead_letter_of(
                0,
                offset,
                1_771_063_200_000 + offset,
                text.encode(),
                orjson.dumps({"event_id": text}),
                dead_letter_headers(f"{text}: refused", text, 0, offset),
            )
            for offset, text in enumerate(texts)
        ]

        async def read(*_args, **_options):
            return letters

        monkeypatch.setattr(cli_dead_letters, "read_dead_letters", read)

    return serve


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_kpis_prints_a_worker_s_hostile_rep_id_inert_in_every_format(fake_worker, fmt, hostile):
    fake_worker(["rep-2", hostile])

    result = invoke("kpis", "--scope", "rep", "--format", fmt.value)

    shown = read_back(fmt, result.stdout)
    assert result.exit_code == 0, result.stderr
    assert is_inert(result.stdout) and is_inert(result.stderr)
    assert len(shown) == 2
    if fmt is Format.json:
        assert [(row["id"], row["revenue"]) for row in shown] == [("rep-2", -3.5), (hostile, -7)]
    elif fmt is Format.csv:
        assert not shown[1]["id"].startswith(FORMULA_STARTS)
        assert shown[1]["revenue"] == "-7"
    else:
        assert shown[1].startswith(f"   2  {terminal_text(hostile)}")


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_kpis_quotes_a_worker_s_hostile_error_body_inert_and_short(fake_worker, hostile):
    fake_worker([], error_body=hostile * 10_000)

    result = invoke("kpis", "--scope", "rep")

    assert result.exit_code == 3
    assert is_inert(result.stderr)
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.splitlines()) == 1
    assert len(result.stderr) < 2_000


@pytest.mark.parametrize("summary", [False, True])
@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_dead_letters_list_prints_hostile_fields_inert(fake_dead_letters, fmt, summary, hostile):
    fake_dead_letters([hostile, "e-2"])

    result = invoke("dead-letters", "list", "--format", fmt.value, *["--summary"] * summary)

    shown = read_back(fmt, result.stdout)
    assert result.exit_code == 0, result.stderr
    assert is_inert(result.stdout) and is_inert(result.stderr)
    assert len(shown) == 2
    if fmt is Format.json:
        assert hostile in [row["source"] for row in shown]
    elif fmt is Format.csv:
        assert not any(cell.startswith(FORMULA_STARTS) for row in shown for cell in row.values())
    else:
        assert any(line.startswith(("0:0", terminal_text(hostile))) for line in shown)


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
def test_dead_letters_show_prints_the_exact_fields_as_inert_json(fake_dead_letters, hostile):
    fake_dead_letters([hostile])

    result = invoke("dead-letters", "show", "0:0")

    assert result.exit_code == 0, result.stderr
    assert is_inert(result.stdout)
    letter = orjson.loads(result.stdout)[0]
    assert (letter["reason"], letter["key"]) == (f"{hostile}: refused", hostile)
    assert letter["value"] == {"event_id": hostile}
