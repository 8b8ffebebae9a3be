"""The ingest HTTP server: uvicorn, with limits and timeouts that a hostile or slow client meets.

What a client gets (the values come from ``Settings``):

* **request head**: a complete request line and headers within ``ingest_header_timeout_s`` of
  opening the connection or of its previous response, else the connection is closed. uvicorn
  itself has no such deadline: without it, a client trickling header bytes (or connecting and
  sending nothing) holds a connection forever. The head is at most ``MAX_HEAD_BYTES`` (h11's
  limit). A head h11 cannot parse (too large, malformed, a Content-Length that is not a plain
  number) gets 400 with a JSON error, and the connection is closed.
* **request body**: complete within ``ingest_body_timeout_s``, else 408 and the connection is
  closed; at most ``ingest_max_body_bytes`` whatever Content-Length says, else 413 and the
  connection is closed (``events.http_edge.read_body``).
* **idle keep-alive**: closed after ``KEEP_ALIVE_S`` without a new request.
* **concurrency**: at most ``ingest_max_connections`` connections and requests at once; beyond
  that uvicorn answers 503 straight away (its own plain-text answer: the app is not reached).

Logs: uvicorn's access log has the client address, method, path, query and status, never a
header (so never ``Authorization``); the query's values are redacted all the same, since the
Salesforce endpoint authenticates with ``?token=`` (Outbound Messages cannot send a header).
Refusals log nothing of the request. aiokafka stays at INFO or above even when ``log_level`` is
DEBUG: its producer's debug records hold every message's key and value whole.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import h11
import orjson
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from events.settings import Settings

KEEP_ALIVE_S = 15
MAX_HEAD_BYTES = 16 * 1024
ACCESS_LOGGER = "uvicorn.access"
PAYLOAD_LOGGERS = ("aiokafka",)
"""Loggers whose DEBUG records carry whole events."""

_QUERY_VALUE = re.compile(r"=[^&#\s]+")


class RedactQueryValues(logging.Filter):
    """Access-log records show ``?token=<redacted>``, not the query's values."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, sep, query = args[2].partition("?")
            if sep:
                redacted = f"{path}?{_QUERY_VALUE.sub('=<redacted>', query)}"
                record.args = (*args[:2], redacted, *args[3:])
        return True


def head_deadline_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head is late."""

    class HeadDeadlineProtocol(_HeadDeadline):
        head_timeout_s = timeout_s

    return HeadDeadlineProtocol


class _HeadDeadline(H11Protocol):
    """A head must be complete ``head_timeout_s`` after the connection opened or the last answer.

    A request head has arrived when uvicorn starts a new request cycle; any other bytes (a head
    in pieces, or the unread rest of a refused body) do not move the deadline.
    """

    head_timeout_s: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None
    _awaited_cycle: Any = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._head_arrived_maybe()

    def on_response_complete(self) -> None:
        self._await_head()
        super().on_response_complete()  # may already start a pipelined request
        self._head_arrived_maybe()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 cannot parse (malformed, head too large), in JSON."""
        body = orjson.dumps({"error": {"code": "invalid_http", "message": msg}})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    def _await_head(self) -> None:
        self._cancel_head_timer()
        self._awaited_cycle = self.cycle
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_too_late)

    def _head_arrived_maybe(self) -> None:
        if self._head_timer is not None and self.cycle is not self._awaited_cycle:
            self._cancel_head_timer()

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def server_config(app: Any, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration of ``salespulse ingest`` (also used by tests)."""
    return uvicorn.Config(
        app,
        host=settings.ingest_host,
        port=settings.ingest_port,
        log_level=settings.log_level.lower(),
        http=head_deadline_protocol(settings.ingest_header_timeout_s),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_keep_alive=KEEP_ALIVE_S,
        limit_concurrency=settings.ingest_max_connections,
        server_header=False,
    )


def serve(app: Any, settings: Settings) -> None:
    """Run the ingest app until SIGINT/SIGTERM."""
    config = server_config(app, settings)  # configures uvicorn's loggers
    keep_payloads_out_of_logs()
    uvicorn.Server(config).run()


def keep_payloads_out_of_logs() -> None:
    """Redact access-log queries; keep loggers that would print whole events above DEBUG."""
    logging.getLogger(ACCESS_LOGGER).addFilter(RedactQueryValues())
    floor = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(floor, logger.getEffectiveLevel()))
