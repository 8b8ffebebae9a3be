"""Limits of POST /v1/events against hostile and slow clients, and what the logs keep of them.

In-process (the app on the real broker): body and batch limits whatever Content-Length says,
deep JSON, numbers JSON cannot hold, framework refusals in the JSON error shape.

Over a real socket (``salespulse ingest`` as a subprocess, exactly what production runs): a chunked
or over-declared body gets 413, a trickled body 408, a trickled head or an idle connection is
closed, a client hanging up mid-body is not a server error, and the log holds neither a token nor
an event's fields.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events.ingest_api import create_ingest_app
from events.publisher import EventPublisher
from events.settings import Settings
from tests.support.kafka import new_topic_prefix
from tests.support.native import call_logged, cost_incurred, deal_created
from tests.support.polling import wait_until
from tests.support.stack import SALESPULSE, free_port

pytestmark = pytest.mark.integration

TOKEN = f"ingest-token-{uuid.uuid4().hex}"
SALESFORCE_TOKEN = f"sf-token-{uuid.uuid4().hex}"
MARKER = f"PAYLOAD-MARKER-{uuid.uuid4().hex[:8]}"
BODY_LIMIT = 4096
HEAD_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
JSON_HEADERS = {"Content-Type": "application/json"}


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()["error"]["code"]


# --- in-process: limits and parsing ----------------------------------------------------------


async def test_a_body_over_the_limit_is_413_even_when_its_content_length_claims_less(make_ingest):
    client = await make_ingest(ingest_max_body_bytes=2048)
    body = orjson.dumps([call_logged(f"c{i}") for i in range(40)])

    response = await client.post(
        "/v1/events", content=body, headers={**JSON_HEADERS, "Content-Length": "10"}
    )

    assert len(body) > 2048
    assert response.status_code == 413
    assert error_code(response) == "too_large"
    assert response.headers["connection"] == "close"


async def test_a_streamed_body_without_content_length_is_cut_at_the_limit(make_ingest):
    client = await make_ingest(ingest_max_body_bytes=2048)
    sent = []

    async def endless():
        for _ in range(10_000):
            sent.append(1024)
            yield b" " * 1024

    response = await client.post("/v1/events", content=endless(), headers=JSON_HEADERS)

    assert response.status_code == 413
    assert error_code(response) == "too_large"
    assert sum(sent) < 10_000 * 1024, "the body was read to its end instead of cut off"


@pytest.mark.parametrize(
    ("declared", "status"),
    [
        (b"\xb2", 202),  # "²" in latin-1: str.isdigit() says yes, int() says no
        (b"\xb9\xb2", 202),
        (b"9" * 5000, 413),  # past int()'s 4300-digit limit
        (b"0" * 30 + b"1", 202),
        (b"-1", 202),
        (b"1e3", 202),
    ],
    ids=["superscript-2", "superscript-12", "5000-digits", "leading-zeros", "negative", "float"],
)
async def test_a_content_length_header_that_is_not_a_plain_number_never_gives_a_500(
    make_ingest, declared, status
):
    client = await make_ingest()
    request = httpx.Request(
        "POST",
        "http://ingest/v1/events",
        headers=[(b"Content-Type", b"application/json"), (b"Content-Length", declared)],
        content=orjson.dumps(call_logged(f"cl-{len(declared)}")),
    )

    response = await client.send(request)

    assert response.status_code == status, response.text


async def test_the_batch_limit_takes_exactly_that_many_events_and_refuses_one_more(make_ingest):
    client = await make_ingest(ingest_max_batch=3)

    taken = await client.post("/v1/events", json=[call_logged(f"b{i}") for i in range(3)])
    refused = await client.post("/v1/events", json=[call_logged(f"b{i}") for i in range(4)])

    assert taken.status_code == 202 and taken.json() == {"accepted": 3}
    assert refused.status_code == 413
    assert error_code(refused) == "batch_too_large"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 1025 + b"]" * 1025, "depth limit exceeded"),
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, "depth limit exceeded"),
        (b'{"amount": NaN}', "unexpected character"),
        (b'{"amount": Infinity}', "unexpected character"),
        (b'{"amount": 1e309}', "number is infinity"),
        (b'{"amount": -1' + b"0" * 400 + b"}", "number is infinity"),
        (b'{"event_id": "\\ud800"}', "surrogate"),
        (b'{"event_id": "\xff"}', "UTF-8"),
    ],
    ids=["deep-array", "deep-object", "nan", "inf", "1e309", "400-digits", "surrogate", "latin1"],
)
async def test_json_no_parser_should_take_is_400_with_the_reason(make_ingest, body, message):
    client = await make_ingest()

    response = await client.post("/v1/events", content=body, headers=JSON_HEADERS)

    assert response.status_code == 400
    assert error_code(response) == "invalid_json"
    assert message in response.json()["error"]["message"]
    assert len(response.content) < 300


async def test_an_event_nested_deeper_than_can_be_stored_is_a_422_and_nothing_is_published(
    make_ingest,
):
    client = await make_ingest()
    deep = b"[" * 300 + b"]" * 300
    event = orjson.dumps(deal_created("deep-1"))[:-1] + b',"note":' + deep + b"}"

    response = await client.post(
        "/v1/events", content=b"[" + event + b"," + orjson.dumps(call_logged("ok")) + b"]"
    )

    assert response.status_code == 422, response.text
    [entry] = response.json()["error"]["invalid"]
    assert entry == {
        "index": 0,
        "event_id": "deep-1",
        "reasons": ["event: cannot be stored as JSON (Recursion limit reached)"],
    }


@pytest.mark.parametrize(
    "event_id",
    [
        b"[" * 1000 + b"]" * 1000,
        b'{"a":' * 1000 + b"1" + b"}" * 1000,
        b"1e300",
        b'"' + b"x" * 9000 + b'"',
    ],
    ids=["deep-array", "deep-object", "huge-number", "huge-string"],
)
async def test_an_invalid_event_id_is_listed_as_null_instead_of_echoed(make_ingest, event_id):
    client = await make_ingest()

    response = await client.post(
        "/v1/events", content=b'[{"event_id":' + event_id + b',"type":"deal.won"}]'
    )

    assert response.status_code == 422, response.text
    [entry] = response.json()["error"]["invalid"]
    assert entry["event_id"] is None
    assert len(response.content) < 600


async def test_huge_and_unicode_values_get_a_422_naming_each_problem(make_ingest):
    client = await make_ingest()
    events = [
        {**cost_incurred("huge"), "amount": "AMOUNT"},
        {**call_logged("😀" * 129)},
        {**call_logged("nul\x00id"), "rep_id": "rép\u202e-1"},
    ]
    body = orjson.dumps(events).replace(b'"AMOUNT"', b"1" + b"0" * 30)

    response = await client.post("/v1/events", content=body)

    assert response.status_code == 422, response.text
    invalid = response.json()["error"]["invalid"]
    assert [(i["index"], i["event_id"]) for i in invalid] == [(0, "huge"), (1, None)]
    assert invalid[0]["reasons"][0].startswith("amount: must be a number between 0 and")
    assert invalid[1]["reasons"] == ["event_id: must be a string of 1 to 128 characters"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/events", 405, "method_not_allowed"),
        ("DELETE", "/v1/events", 405, "method_not_allowed"),
        ("POST", "/v1/nothing-here", 404, "not_found"),
        ("GET", "/v1/webhooks/salesforce", 405, "method_not_allowed"),
    ],
)
async def test_framework_refusals_use_the_same_json_error_shape(
    make_ingest, method, path, status, code
):
    client = await make_ingest()

    response = await client.request(method, path)

    assert response.status_code == status
    assert error_code(response) == code


async def test_an_unexpected_crash_is_a_json_500_saying_a_retry_is_safe():
    class ExplodingPublisher(EventPublisher):
        async def publish(self, batch) -> None:
            raise RuntimeError(f"boom {MARKER}")

    app = create_ingest_app(Settings(), publisher=ExplodingPublisher([], 1.0))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post("/v1/events", json=call_logged("crash-1"))

    assert response.status_code == 500
    assert error_code(response) == "internal_error"
    assert "retrying it is safe" in response.json()["error"]["message"]
    assert MARKER not in response.text


# --- over a real socket: the ingest process as production runs it ----------------------------


@dataclass
class IngestProcess:
    port: int
    log_path: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def samples(self) -> dict[tuple[str, str], float]:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return {
            (s.labels.get("path", ""), s.labels.get("status", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "salespulse_ingest_requests_total"
        }


@pytest.fixture(scope="module")
def ingest_process(kafka_bootstrap: str, tmp_path_factory) -> Iterator[IngestProcess]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("ingest-limits") / "ingest.log"
    env = {
        **os.environ,
        "SALESPULSE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SALESPULSE_TOPIC_PREFIX": new_topic_prefix("limits"),
        "SALESPULSE_PARTITIONS": "2",
        "SALESPULSE_LOG_LEVEL": "DEBUG",
        "SALESPULSE_INGEST_TOKEN": TOKEN,
        "SALESPULSE_INGEST_MAX_BODY_BYTES": str(BODY_LIMIT),
        "SALESPULSE_INGEST_HEADER_TIMEOUT_S": str(HEAD_TIMEOUT_S),
        "SALESPULSE_INGEST_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "SALESPULSE_SALESFORCE_ORGANIZATION_ID": "00D000000000001AAA",
        "SALESPULSE_SALESFORCE_TOKEN": SALESFORCE_TOKEN,
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [SALESPULSE, "ingest", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    ingest = IngestProcess(port, log_path, process)
    try:
        _wait_ready(ingest)
        yield ingest
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_ready(ingest: IngestProcess, timeout_s: float = 60) -> None:
    wait_until(
        lambda: _ready(ingest),
        timeout_s,
        0.2,
        "ingest ready",
        retry_on=(httpx.TransportError,),
        details=lambda: ingest.log()[-3000:],
    )


def _ready(ingest: IngestProcess) -> bool:
    assert ingest.process.poll() is None, f"ingest exited:\n{ingest.log()[-3000:]}"
    return httpx.get(f"{ingest.url}/readyz", timeout=2).status_code == 200


def head(*lines: str, token: str | None = TOKEN) -> bytes:
    auth = [f"Authorization: Bearer {token}"] if token else []
    text = "\r\n".join(["POST /v1/events HTTP/1.1", "Host: ingest", *auth, *lines]) + "\r\n\r\n"
    return text.encode("latin-1")


@dataclass
class Exchange:
    answer: bytes
    closed: bool
    elapsed_s: float

    @property
    def status(self) -> int:
        return int(self.answer.split(b" ", 2)[1]) if self.answer else 0

    @property
    def json(self) -> dict:
        return orjson.loads(self.answer.partition(b"\r\n\r\n")[2])

    @property
    def headers(self) -> dict[str, str]:
        lines = self.answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
        return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


def trickle(
    port: int, first: bytes, then: bytes = b"", pause_s: float = 0.2, max_s: float = 8
) -> Exchange:
    """Send ``first``, then ``then`` one byte per pause, reading all along; stop when closed."""
    started = time.monotonic()
    answer, closed, position = b"", False, 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(first)
        while time.monotonic() - started < max_s:
            readable, _, _ = select.select([sock], [], [], pause_s)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                answer += chunk
                continue
            if position < len(then):
                try:
                    sock.sendall(then[position : position + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                position += 1
    return Exchange(answer, closed, time.monotonic() - started)


def _read_to_close(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_a_chunked_body_over_the_limit_gets_413_and_the_connection_is_closed(ingest_process):
    chunk = b"x" * 1024
    chunks = b"".join(b"400\r\n" + chunk + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"

    exchange = trickle(
        ingest_process.port, head("Transfer-Encoding: chunked") + chunks, pause_s=0.1, max_s=5
    )

    assert exchange.status == 413
    assert exchange.json["error"]["code"] == "too_large"
    assert exchange.closed and exchange.elapsed_s < 3


def test_a_declared_length_over_the_limit_is_refused_before_any_body_is_sent(ingest_process):
    exchange = trickle(ingest_process.port, head("Content-Length: 99999999"), max_s=5)

    assert exchange.status == 413
    assert exchange.json["error"]["code"] == "too_large"
    assert exchange.closed and exchange.elapsed_s < 3


@pytest.mark.parametrize(
    "content_length",
    ["9" * 5000, "\xb2", "-1", "1e3", "12, 13"],
    ids=["5000-digits", "superscript-2", "negative", "float", "two-values"],
)
def test_a_content_length_the_http_parser_rejects_is_a_json_400(ingest_process, content_length):
    exchange = trickle(ingest_process.port, head(f"Content-Length: {content_length}"), max_s=5)

    assert exchange.status == 400
    assert exchange.headers["content-type"] == "application/json"
    assert exchange.json["error"]["code"] == "invalid_http"
    assert exchange.closed


def test_a_request_head_growing_past_16_kib_is_a_json_400(ingest_process):
    """h11 bounds the part of a head not parsed yet: a head arriving in pieces is cut at 16 KiB."""
    big = head(*(f"X-Padding-{i}: {'p' * 1000}" for i in range(20)), "Content-Length: 2")
    with socket.create_connection(("127.0.0.1", ingest_process.port), timeout=5) as sock:
        for start in range(0, 17 * 1024, 1024):
            sock.sendall(big[start : start + 1024])
            time.sleep(0.01)
        exchange = Exchange(_read_to_close(sock), True, 0)

    assert exchange.status == 400
    assert exchange.json["error"]["code"] == "invalid_http"


def test_a_client_trickling_its_body_gets_408_and_is_cut_off(ingest_process):
    exchange = trickle(ingest_process.port, head("Content-Length: 200"), b"x" * 200)

    assert exchange.status == 408
    assert exchange.json["error"]["code"] == "body_timeout"
    assert exchange.headers["connection"] == "close"
    assert exchange.closed
    assert BODY_TIMEOUT_S - 0.1 <= exchange.elapsed_s < BODY_TIMEOUT_S + 3


def test_a_client_trickling_its_request_head_is_disconnected(ingest_process):
    exchange = trickle(
        ingest_process.port, b"POST /v1/events HTTP/1.1\r\n", b"X-Slow: " + b"s" * 100
    )

    assert exchange.answer == b""
    assert exchange.closed
    assert HEAD_TIMEOUT_S - 0.1 <= exchange.elapsed_s < HEAD_TIMEOUT_S + 3


def test_an_idle_connection_is_closed_at_the_head_deadline(ingest_process):
    exchange = trickle(ingest_process.port, b"")

    assert exchange.closed
    assert exchange.elapsed_s < HEAD_TIMEOUT_S + 3


def test_a_refused_client_that_keeps_sending_its_body_is_cut_off(ingest_process):
    exchange = trickle(ingest_process.port, head("Content-Length: 200", token="wrong"), b"x" * 200)

    assert exchange.status == 401
    assert exchange.json["error"]["code"] == "unauthorized"
    assert exchange.closed
    assert exchange.elapsed_s < HEAD_TIMEOUT_S + 3


def test_keep_alive_still_serves_requests_one_after_another_on_one_connection(ingest_process):
    with httpx.Client(base_url=ingest_process.url, timeout=5) as client:
        answers = []
        for i in range(3):
            answers.append(
                client.post(
                    "/v1/events",
                    json=call_logged(f"keepalive-{i}"),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
            )
            time.sleep(HEAD_TIMEOUT_S / 3)

    assert [a.status_code for a in answers] == [202, 202, 202]


def test_a_client_hanging_up_mid_body_is_not_a_server_error(ingest_process):
    with socket.create_connection(("127.0.0.1", ingest_process.port), timeout=5) as sock:
        sock.sendall(head("Content-Length: 300") + b'{"event_id": "hang')
        time.sleep(0.3)

    time.sleep(0.5)
    samples = ingest_process.samples()
    assert samples.get(("/v1/events", "499")), samples
    assert not [key for key in samples if key[1].startswith("5")], samples
    assert "Exception in ASGI application" not in ingest_process.log()


# --- what the logs keep ----------------------------------------------------------------------


async def test_refusals_log_neither_the_token_nor_the_events(make_ingest, caplog):
    caplog.set_level("DEBUG")
    client = await make_ingest(ingest_token=TOKEN)
    offline = await make_ingest(
        ingest_token=TOKEN, kafka_bootstrap="127.0.0.1:1", ingest_ack_timeout_s=1
    )
    good = {"Authorization": f"Bearer {TOKEN}"}
    bad_event = {**call_logged(MARKER), "rep_id": MARKER, "duration_s": f"{MARKER}-duration"}

    answers = [
        await client.post("/v1/events", json=bad_event),
        await client.post("/v1/events", json=bad_event, headers={"Authorization": MARKER}),
        await client.post("/v1/events", json=[bad_event, call_logged("x")], headers=good),
        await client.post("/v1/events", content=f'{{"{MARKER}": [', headers=good),
        await offline.post("/v1/events", json=call_logged(MARKER), headers=good),
    ]

    assert [a.status_code for a in answers] == [401, 401, 422, 400, 503]
    assert answers[0].headers["www-authenticate"] == 'Bearer realm="salespulse"'
    assert caplog.records, "the refusals logged nothing at all: nothing was checked"
    assert TOKEN not in caplog.text
    assert MARKER not in caplog.text


def test_the_ingest_process_log_has_no_token_no_event_fields_and_redacted_queries(
    ingest_process,
):
    secret_headers = {"Authorization": f"Bearer {TOKEN}"}
    event = {**call_logged(f"{MARKER}-id"), "rep_id": f"{MARKER}-rep", "note": MARKER}
    with httpx.Client(base_url=ingest_process.url, timeout=10) as client:
        answers = [
            client.post("/v1/events", json=event, headers={"Authorization": f"Bearer {MARKER}"}),
            client.post("/v1/events", json={**event, "amount": -1, "type": "cost.incurred"}),
            client.post(
                "/v1/events",
                json={**event, "type": "cost.incurred", "amount": -1},
                headers=secret_headers,
            ),
            client.post("/v1/events", json=event, headers=secret_headers),
            client.post(
                f"/v1/webhooks/salesforce?token={SALESFORCE_TOKEN}",
                content=f"<soap>{MARKER}</soap>",
                headers={"Content-Type": "text/xml"},
            ),
            client.post(f"/v1/events?token={MARKER}", content=MARKER, headers=secret_headers),
        ]
    time.sleep(0.3)
    log = ingest_process.log()

    assert [a.status_code for a in answers] == [401, 401, 422, 202, 422, 400]
    assert '"POST /v1/events HTTP/1.1" 422' in log, "access log is on: the check means something"
    assert "/v1/webhooks/salesforce?token=<redacted>" in log
    assert TOKEN not in log
    assert SALESFORCE_TOKEN not in log
    assert MARKER not in log
    assert "authorization" not in log.lower()
