"""The JSON read API's parameters and answer (contract section 5), free of any web framework."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from events.errors import InvalidInput
from events.timestamps import EARLIEST_INSTANT, LATEST_INSTANT, parse_rfc3339
from projections.effects import COMPANY, SCOPES, scope_key, split_scope_key
from projections.timebase import DAY_US, BucketGrid, from_us, to_us
from projections.windows import WINDOWS, window_bounds


class QueryError(InvalidInput):
    """Bad parameters: the API answers 400 with this message."""


AS_OF_FORMAT = "as_of: must be an RFC 3339 timestamp with an offset, e.g. 2026-02-14T15:20:00Z"


@dataclass(frozen=True)
class KpiQuery:
    scope: str
    scope_id: str
    window: str
    as_of: datetime

    @property
    def key(self) -> str:
        return scope_key(self.scope, self.scope_id)


def parse_kpi_query(params: Mapping[str, str], now: datetime) -> KpiQuery:
    scope = params.get("scope")
    if scope not in SCOPES:
        raise QueryError(f"scope: must be one of {', '.join(SCOPES)}")
    scope_id = params.get("id", "")
    if scope == COMPANY and scope_id:
        raise QueryError("id: must be empty for scope=company")
    if scope != COMPANY and not scope_id:
        raise QueryError(f"id: required for scope={scope}")
    if not _is_utf8(scope_id):
        raise QueryError("id: must be valid Unicode text")
    window = params.get("window")
    if window not in WINDOWS:
        raise QueryError(f"window: must be one of {', '.join(WINDOWS)}")
    as_of = params.get("as_of")
    return KpiQuery(scope, scope_id, window, _parse_as_of(as_of) if as_of else now)


def check_retained(query: KpiQuery, grid: BucketGrid, horizon_day: int | None) -> None:
    """``QueryError`` naming the horizon when the query's window starts before the first UTC
    day the state keeps (retention by stream time, contract section 3); None: nothing pruned.

    The window's start is its earliest instant: the stock instant T (the end of its ``1h``
    window) is later, and a calendar window starts at local midnight, which may fall on the
    UTC day before its first local day."""
    if horizon_day is None:
        return
    start, _ = window_bounds(query.window, query.as_of, grid)
    if to_us(start) // DAY_US < horizon_day:
        horizon = render_instant(from_us(horizon_day * DAY_US))
        raise QueryError(
            f"as_of: the {query.window} window starts at {render_instant(start)}, before the "
            f"retention horizon {horizon} (retention_days back from the latest event time): "
            "KPIs are kept from then on"
        )


def _parse_as_of(raw: str) -> datetime:
    """``as_of`` within [EARLIEST_INSTANT, LATEST_INSTANT): outside, window starts and calendar
    days in the configured time zone would leave what ``datetime`` can represent."""
    # An unescaped '+' of an offset arrives as a space in a query string.
    moment = parse_rfc3339(raw.strip().replace(" ", "+"))
    if moment is None:
        raise QueryError(AS_OF_FORMAT)
    if not EARLIEST_INSTANT <= moment < LATEST_INSTANT:
        raise QueryError(
            f"as_of: must be at or after {render_instant(EARLIEST_INSTANT)} and before "
            f"{render_instant(LATEST_INSTANT)}"
        )
    return moment


def _is_utf8(text: str) -> bool:
    """False for lone surrogates, which no table key (UTF-8 bytes) can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def render_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def kpi_answer(query: KpiQuery, kpis: Mapping[str, float | int]) -> dict:
    return {
        "scope": query.scope,
        "id": query.scope_id,
        "window": query.window,
        "as_of": render_instant(query.as_of),
        "kpis": dict(kpis),
    }


def parse_scope_filter(params: Mapping[str, str]) -> str | None:
    """The optional ``scope`` of a key listing (``GET /v1/keys``); None lists every scope."""
    scope = params.get("scope")
    if scope is None or scope == "":
        return None
    if scope not in SCOPES:
        raise QueryError(f"scope: must be one of {', '.join(SCOPES)}")
    return scope


def key_listing(keys: Iterable[str], scope: str | None) -> list[dict[str, str]]:
    """``[{"scope", "id"}]`` of ``keys`` (``scope|id``) in ``scope`` (all if None), sorted."""
    pairs = sorted({split_scope_key(key) for key in keys})
    return [{"scope": s, "id": i} for s, i in pairs if scope is None or s == scope]
