"""The workers' HTTP read API as used by the tools: list keys, read one key's KPIs."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


class WorkerUnavailable(RuntimeError):
    """The worker could not be reached, or answered with an error the tool cannot act on."""


class BadRequest(ValueError):
    """The worker refused the parameters (HTTP 400): a usage error."""


class UnknownKey(LookupError):
    """The workers know no KPIs for this (scope, id) (``/v1/kpis`` answered 404)."""


@dataclass
class WorkerApi:
    base_url: str
    token: str | None = None
    timeout_s: float = 15.0
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._client = httpx.Client(
            base_url=self.base_url.rstrip("/"), headers=headers, timeout=self.timeout_s
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
        body = _json_or_raise(self._get("/v1/keys", {"scope": scope} if scope else {}))
        return [(item["scope"], item["id"]) for item in body["keys"]], bool(body["complete"])

    def kpis(self, scope: str, scope_id: str, window: str, as_of: str | None) -> dict:
        """The ``/v1/kpis`` answer; ``UnknownKey`` on 404."""
        params = {"scope": scope, "id": scope_id, "window": window}
        if as_of:
            params["as_of"] = as_of
        response = self._get("/v1/kpis", params)
        if response.status_code == 404:
            raise UnknownKey(f"no KPIs for scope={scope} id={scope_id!r}")
        return _json_or_raise(response)


def _json_or_raise(response: httpx.Response) -> dict:
    if response.status_code == 400:
        raise BadRequest(response.json().get("error", {}).get("message", response.text))
    if response.status_code != 200:
        raise WorkerUnavailable(
            f"{response.request.url}: HTTP {response.status_code} {response.text}"
        )
    try:
        return response.json()
    except ValueError as exc:
        raise WorkerUnavailable(f"{response.request.url}: not JSON ({exc})") from exc
