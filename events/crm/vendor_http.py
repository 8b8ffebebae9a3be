"""The HTTP layer every CRM API client shares: timeouts, rate limits, backoff, error mapping.

CRMs throttle (HubSpot and Pipedrive answer 429 with ``Retry-After``), have bad minutes (5xx,
timeouts) and refuse bad credentials. A caller (webhook enrichment, ``salespulse crm sync``) needs
one of three outcomes: the JSON answer, ``VendorUnavailable`` (ask again later: nothing is lost)
or ``VendorRefused`` (fix the configuration: retrying will not help). Retries are bounded twice,
by count and by total waiting time, so a throttled vendor can never hold a caller for long.

An answer is read as a stream and never beyond ``max_answer_bytes`` (32 MiB by default): a
larger one, or a 2xx that is not a JSON object (not the documented shape), is ``VendorRefused``
with the reason, since asking again would get the same answer.

Tokens travel in headers only, never in URLs, and nothing here logs a header.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from events.crm.deal_source import VendorRefused, VendorUnavailable

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({401, 403})
LONGEST_RETRY_AFTER_S = 3600.0
MAX_ANSWER_BYTES = 32 * 1024 * 1024
"""The most of one answer that is read: a vendor answer beyond it is refused, never buffered."""
"""A Retry-After beyond this is treated as this: the budget then refuses to wait for it."""


class VendorBadRequest(VendorRefused):
    """A 4xx other than 401/403/429: the request itself is wrong (e.g. a field this org lacks).

    ``body`` lets a client recognise a refusal it can work around (Salesforce's INVALID_FIELD
    for ``CurrencyIsoCode`` in an org without multiple currencies).
    """

    def __init__(self, vendor: str, status: int, body: str) -> None:
        super().__init__(f"{vendor} API: HTTP {status} ({_excerpt(body)})")
        self.status, self.body = status, body


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep asking: ``max_retries`` after the first try, ``budget_s`` of waiting."""

    max_retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    budget_s: float = 60.0


def retry_after_s(header: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date), or None.

    None when absent or unreadable: the caller falls back to its own backoff.
    """
    if header is None or not header.strip():
        return None
    text = header.strip()
    if text.isascii() and text.isdigit():
        return min(float(int(text[:8])), LONGEST_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), LONGEST_RETRY_AFTER_S)


def backoff_s(retry: int, policy: RetryPolicy, draw: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter for the ``retry``-th retry (1-based).

    Full jitter spreads the retries of many callers hit by the same outage over the whole
    interval instead of synchronising them on its edges.
    """
    ceiling = min(policy.max_delay_s, policy.base_delay_s * 2 ** (retry - 1))
    return ceiling * draw()


def next_delay_s(
    retry: int, waited_s: float, wanted_s: float | None, policy: RetryPolicy, draw=random.random
) -> float | None:
    """How long to wait before retry number ``retry``, or None to give up now.

    ``wanted_s`` is the vendor's own Retry-After: it is honoured as asked (never shortened, a
    vendor counts early retries against the caller), so it is also what may exhaust the budget.
    """
    if retry > policy.max_retries:
        return None
    delay = wanted_s if wanted_s is not None else backoff_s(retry, policy, draw)
    if waited_s + delay > policy.budget_s:
        return None
    return delay


def refused_message(vendor: str, status: int, body: str) -> str:
    what = "the token was refused" if status == 401 else "the token lacks a permission or scope"
    return f"{vendor} API: HTTP {status}, {what} ({_excerpt(body)})"


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class VendorHttp:
    """One vendor's API: a base URL, authentication headers and the retry policy.

    ``sleep`` and ``clock`` are injectable so that tests decide about time instead of waiting.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        headers: dict[str, str],
        timeout_s: float,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.vendor, self.policy = vendor, policy
        self.max_answer_bytes = max_answer_bytes
        self._sleep, self._clock = sleep, clock
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json", **headers},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    async def pause(self, seconds: float) -> None:
        """Wait, through the injectable sleep (pacing a rate-limited endpoint)."""
        await self._sleep(seconds)

    async def get(self, path: str, params: dict | None = None) -> dict:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, body: dict) -> dict:
        return await self.request("POST", path, json=body)

    async def request(self, method: str, path: str, **options: Any) -> dict:
        """The JSON object answered, after retries; VendorUnavailable or VendorRefused."""
        retry, waited = 0, 0.0
        while True:
            outcome = await self._attempt(method, path, options)
            if isinstance(outcome, dict):
                return outcome
            problem, wanted = outcome
            retry += 1
            delay = next_delay_s(retry, waited, wanted, self.policy)
            if delay is None:
                raise VendorUnavailable(f"{self.vendor} API: {problem}; giving up for now")
            log.info("%s API %s %s: %s, retry in %.1f s", self.vendor, method, path, problem, delay)
            await self._sleep(delay)
            waited += delay

    async def _attempt(self, method: str, path: str, options: dict) -> dict | tuple:
        """The answer, or (problem, Retry-After seconds or None) when a retry may help."""
        try:
            async with self._client.stream(method, path, **options) as response:
                status = response.status_code
                if status in RETRIED_STATUSES:
                    wanted = retry_after_s(response.headers.get("Retry-After"), self._clock())
                    return f"HTTP {status}", wanted
                body = await self._read_capped(response)
        except httpx.TimeoutException:
            return "timed out", None
        except httpx.TransportError as exc:
            return f"connection failed ({type(exc).__name__})", None
        text = body.decode(response.encoding or "utf-8", "replace")
        if status in REFUSED_STATUSES:
            raise VendorRefused(refused_message(self.vendor, status, text))
        if status >= 400:
            raise VendorBadRequest(self.vendor, status, text)
        return self._json(body)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The answer's bytes; VendorRefused as soon as they exceed ``max_answer_bytes``."""
        limit = self.max_answer_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise VendorRefused(self._too_large(f"{int(declared):,}"))
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise VendorRefused(self._too_large(f"over {limit:,}"))
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, size: str) -> str:
        limit = f"{self.max_answer_bytes:,}"
        return f"{self.vendor} API: an answer of {size} bytes, more than the {limit} read"

    def _json(self, body: bytes) -> dict:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise VendorRefused(f"{self.vendor} API: the answer is not JSON") from None
        if not isinstance(value, dict):
            raise VendorRefused(f"{self.vendor} API: the answer is not a JSON object")
        return value
