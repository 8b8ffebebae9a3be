"""The workers' HTTP read API as used by the tools: list keys, read one key's KPIs.

A worker is a peer, not an authority over the operator's terminal: its answers are checked for
shape (ids are text, KPIs finite numbers) and its error bodies are cut short, so a broken or
hostile worker gives a clear ``WorkerUnavailable`` (exit 3), never a traceback or a flood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import httpx

from events.errors import InvalidInput, NotFound, Unavailable

ERROR_EXCERPT_CHARS = 300
"""Longest part of a worker's error body quoted in a message."""


class WorkerUnavailable(Unavailable):
    """The worker could not be reached, or answered with an error the tool cannot act on."""


class BadRequest(InvalidInput):
    """The worker refused the parameters (HTTP 400): a usage error."""


class UnknownKey(NotFound):
    """The workers know no KPIs for this (scope, id) (``/v1/kpis`` answered 404)."""


@dataclass
class WorkerApi:
    base_url: str
    token: str | None = None
    timeout_s: float = 15.0
    transport: httpx.BaseTransport | None = None
    """Only for tests (``httpx.MockTransport``); None is the network."""
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._client = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers=headers,
            timeout=self.timeout_s,
            transport=self.transport,
        )

    def __enter__(self) -> WorkerApi:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def _get(self, path: str, params: dict) -> httpx.Response:
        try:
            return self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise WorkerUnavailable(f"{self.base_url}{path}: {exc}") from exc

    def keys(self, scope: str | None = None) -> tuple[list[tuple[str, str]], bool]:
        """Every known (scope, id), of ``scope`` only if given; whether every worker answered."""
        response = self._get("/v1/keys", {"scope": scope} if scope else {})
        body = _json_or_raise(response)
        items, complete = body.get("keys"), body.get("complete")
        if not isinstance(items, list) or not isinstance(complete, bool):
            raise _unexpected(response, "no list of keys")
        pairs = [_key_pair(item) for item in items]
        if None in pairs:
            raise _unexpected(response, "a key without a text scope and id")
        return pairs, complete

    def kpis(self, scope: str, scope_id: str, window: str, as_of: str | None) -> dict:
        """The ``/v1/kpis`` answer; ``UnknownKey`` on 404."""
        params = {"scope": scope, "id": scope_id, "window": window}
        if as_of:
            params["as_of"] = as_of
        response = self._get("/v1/kpis", params)
        if response.status_code == 404:
            raise UnknownKey(f"no KPIs for scope={scope} id={scope_id!r}")
        body = _json_or_raise(response)
        if not _is_text(body.get("id")):
            raise _unexpected(response, "no text id")
        if not _are_kpis(body.get("kpis")):
            raise _unexpected(response, "KPIs must be finite numbers or null by name")
        return body


def _is_text(value: object) -> bool:
    """A string that can be printed and encoded (no lone surrogates, which JSON escapes allow)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_kpi_value(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _are_kpis(value: object) -> bool:
    return isinstance(value, dict) and all(
        _is_text(name) and _is_kpi_value(kpi) for name, kpi in value.items()
    )


def _key_pair(item: object) -> tuple[str, str] | None:
    if not isinstance(item, dict) or not (_is_text(item.get("scope")) and _is_text(item.get("id"))):
        return None
    return item["scope"], item["id"]


def _excerpt(text: str) -> str:
    if len(text) <= ERROR_EXCERPT_CHARS:
        return text
    return f"{text[:ERROR_EXCERPT_CHARS]}… ({len(text)} characters)"


def _unexpected(response: httpx.Response, why: str) -> WorkerUnavailable:
    return WorkerUnavailable(f"{response.request.url}: unexpected answer: {why}")


def _error_message(response: httpx.Response) -> str:
    """The ``{"error": {"message"}}`` of an error answer, else the start of its body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return _excerpt(message if _is_text(message) else response.text)


def _json_or_raise(response: httpx.Response) -> dict:
    if response.status_code == 400:
        raise BadRequest(_error_message(response))
    if response.status_code != 200:
        raise WorkerUnavailable(
            f"{response.request.url}: HTTP {response.status_code} {_error_message(response)}"
        )
    try:
        body = response.json()
    except ValueError as exc:
        raise WorkerUnavailable(f"{response.request.url}: not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise _unexpected(response, "not a JSON object")
    return body
