"""The tools' worker client: a broken or hostile worker answer is a clear error, never a crash."""

import httpx
import pytest

from streams.tools.worker_api import (
    ERROR_EXCERPT_CHARS,
    BadRequest,
    UnknownKey,
    WorkerApi,
    WorkerUnavailable,
)


@pytest.fixture
def make_api():
    """Factory: a WorkerApi whose worker answers every request with ``status`` and ``body``."""

    def build(status: int, body: str) -> WorkerApi:
        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(status, text=body, headers={"content-type": "application/json"})

        return WorkerApi("http://worker.test", transport=httpx.MockTransport(answer))

    return build


def test_well_formed_answers_are_returned_as_they_are(make_api):
    keys = make_api(200, '{"keys": [{"scope": "rep", "id": "\\u001b[2J"}], "complete": false}')
    kpis = make_api(200, '{"id": "rep-1", "kpis": {"revenue": -3.5, "win_ratio": null}}')

    assert keys.keys("rep") == ([("rep", "\x1b[2J")], False)
    assert kpis.kpis("rep", "rep-1", "30d", None)["kpis"] == {"revenue": -3.5, "win_ratio": None}


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        "{}",
        '{"keys": "rep-1", "complete": true}',
        '{"keys": [], "complete": "yes"}',
        '{"keys": [["rep", "rep-1"]], "complete": true}',
        '{"keys": [{"scope": "rep", "id": 7}], "complete": true}',
        '{"keys": [{"scope": "rep", "id": "\\ud800"}], "complete": true}',
    ],
)
def test_a_malformed_key_listing_is_an_unavailable_worker(make_api, body):
    with pytest.raises(WorkerUnavailable, match="unexpected answer"):
        make_api(200, body).keys()


@pytest.mark.parametrize(
    "body",
    [
        '["rep-1"]',
        '{"kpis": {}}',
        '{"id": 1, "kpis": {}}',
        '{"id": "rep-1", "kpis": []}',
        '{"id": "rep-1", "kpis": {"revenue": "=1+1"}}',
        '{"id": "rep-1", "kpis": {"revenue": NaN}}',
        '{"id": "rep-1", "kpis": {"revenue": -Infinity}}',
        '{"id": "rep-1", "kpis": {"revenue": true}}',
        '{"id": "\\udfff", "kpis": {}}',
    ],
)
def test_a_malformed_kpi_answer_is_an_unavailable_worker(make_api, body):
    with pytest.raises(WorkerUnavailable, match="unexpected answer"):
        make_api(200, body).kpis("rep", "rep-1", "30d", None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error": {"code": "bad_window", "message": "window: unknown"}}', "window: unknown"),
        ("<html>bad request</html>", "<html>bad request</html>"),
        ('["bad"]', '["bad"]'),
        ('{"error": "bad"}', '{"error": "bad"}'),
    ],
)
def test_a_refusal_is_a_usage_error_whatever_its_body(make_api, body, message):
    with pytest.raises(BadRequest) as raised:
        make_api(400, body).kpis("rep", "rep-1", "2w", None)

    assert str(raised.value) == message


@pytest.mark.parametrize("status", [400, 500, 503])
def test_a_huge_error_body_is_quoted_only_in_part(make_api, status):
    with pytest.raises((BadRequest, WorkerUnavailable)) as raised:
        make_api(status, "x" * 1_000_000).keys()

    assert len(str(raised.value)) < ERROR_EXCERPT_CHARS + 200
    assert "1000000 characters" in str(raised.value)


def test_a_404_is_an_unknown_key(make_api):
    with pytest.raises(UnknownKey, match="id='rep-9'"):
        make_api(404, "{}").kpis("rep", "rep-9", "30d", None)
