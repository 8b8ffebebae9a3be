"""CRM export rows to native events, for ``salespulse backfill`` (pure: text in, dicts out).

Per deal row (columns per ``backfill_mapping.ExportMapping``):

- deal.created at the creation time with owner -> rep/team, customer, amount (+ currency),
  channel, segment and probability (a percent divided by 100) when every attribute the contract
  requires is known, else deal.updated with what is;
- deal.won / deal.lost at the won / lost time (else the close time) when the stage says so.

An activity row (mapping ``kind`` column with a call kind) gives call.logged at its creation time.

Event ids are deterministic (``events.crm.common.native_event_id``): vendor, record id, role, the
stage and the time, and for the created event its attributes too. Importing the same export again
gives byte-identical events under the same ids, which the workers drop as duplicates; a later
export of a changed deal gives a new created event (new attributes, new id) at the same time,
which the workers' fold orders after the first (ties: arrival order), so the new values count.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime

import orjson

from events.crm.common import (
    PERCENT,
    InvalidDelivery,
    created_or_updated,
    deal_event,
    native_event_id,
    parse_amount,
    parse_probability,
    rfc3339,
    text_id,
    vendor_time,
)
from events.crm.mapping import CrmMapping
from events.errors import InvalidInput
from streams.tools.backfill_mapping import ExportMapping

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MINUTES = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}", re.ASCII)


class RowRefused(InvalidInput):
    """A row that cannot be mapped; the message names the column and the rule."""


class ExportUnreadable(InvalidInput):
    """The export cannot be read on from some line on (e.g. a CSV field over csv's size limit).

    Past such a line the reader cannot tell where the next row starts, so the whole file is
    refused rather than imported in part.
    """


class RowSkipped(InvalidInput):
    """A row that is neither a deal nor a call (e.g. a meeting): left out, not an error."""


Row = tuple[int, dict | str]
"""(row number, the row as a dict, or why it could not be read at all)."""


def read_rows(text: str, suffix: str) -> Iterator[Row]:
    """Rows of a CSV (header line first) or JSON Lines export; row numbers are file lines."""
    if suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, _json_object(line)
        return
    reader = csv.DictReader(io.StringIO(text))
    try:
        for row in reader:
            yield reader.line_num, {name: value for name, value in row.items() if name is not None}
    except csv.Error as exc:
        # DictReader updates its own line_num only after a row parsed: ask the csv reader.
        raise ExportUnreadable(f"line {reader.reader.line_num}: {_csv_problem(exc)}") from None


def _csv_problem(error: csv.Error) -> str:
    """csv's message, with the one limit an export can realistically meet said plainly."""
    if "field larger than field limit" in str(error):
        return f"a field is longer than {csv.field_size_limit():,} characters, the CSV limit"
    return f"not readable as CSV ({error})"


def _json_object(line: str) -> dict | str:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return f"line: not valid JSON ({exc.msg})"
    return value if isinstance(value, dict) else "line: not a JSON object"


def export_time(value: object, column: str, date_only_is_utc_midnight: bool) -> datetime | None:
    """A time cell: RFC 3339, naive UTC (seconds optional), epoch, or a date (00:00 UTC)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    moment = vendor_time(value)
    text = value.strip() if isinstance(value, str) else ""
    if moment is None and _MINUTES.fullmatch(text):
        moment = vendor_time(text + ":00")
    if moment is None and date_only_is_utc_midnight and _DATE.fullmatch(text):
        moment = vendor_time(text + "T00:00:00Z")
    if moment is None:
        raise RowRefused(f"{column}: {str(value)[:40]!r} is not a date or time")
    return moment


class RowMapper:
    """Turns rows of one vendor's export into native events (``events_of``)."""

    def __init__(self, vendor: str, mapping: ExportMapping, crm: CrmMapping) -> None:
        self.vendor, self.mapping, self.crm = vendor, mapping, crm
        self.config = getattr(crm, vendor)

    def _cell(self, row: dict, column: str | None) -> object:
        return None if column is None else row.get(column)

    def _time(self, row: dict, column: str | None) -> datetime | None:
        value = self._cell(row, column)
        return export_time(value, column or "", self.mapping.date_only_is_utc_midnight)

    def _text(self, row: dict, column: str | None) -> str | None:
        return text_id(self._cell(row, column))

    def events_of(self, row: dict) -> list[dict]:
        m = self.mapping
        record = self._text(row, m.record_id)
        if record is None:
            raise RowRefused(f"{m.record_id}: missing (the record id)")
        kind = self._text(row, m.kind) if m.kind else None
        if kind is None or kind in m.deal_kinds:
            return self._deal(row, record)
        if kind in m.call_kinds:
            return [self._call(row, record)]
        raise RowSkipped(f"{m.kind}: {kind!r} is neither a deal nor a call")

    def _people(self, row: dict) -> dict:
        m = self.mapping
        attrs = dict(self.crm.owner_attrs(self.config, self._text(row, m.owner)))
        for name, column in (("rep_id", m.rep), ("team_id", m.team)):
            value = self._text(row, column)
            if value is not None:
                attrs[name] = value
        return attrs

    def _attrs(self, row: dict) -> dict:
        m = self.mapping
        attrs = self._people(row)
        attrs["customer_id"] = self._text(row, m.customer)
        attrs["channel"] = self._text(row, m.channel)
        try:
            amount = parse_amount(self._cell(row, m.amount), m.amount or "amount")
        except InvalidDelivery as exc:
            raise RowRefused(exc.reason) from None
        if amount is not None:
            attrs["amount"] = amount
            attrs["currency"] = self._text(row, m.currency)
        attrs["segment"] = self.crm.segment(self.config, self._text(row, m.segment))
        attrs["probability"] = self._probability(row)
        return {name: value for name, value in attrs.items() if value is not None}

    def _probability(self, row: dict) -> int | float | None:
        """The probability cell on the export's scale; "35 %" is a percent whatever the scale.

        Spreadsheets and report exports often format percentages with the sign, which leaves no
        doubt; a bare number is read on ``probability_scale`` (HubSpot 0..1, others 0..100).
        """
        m = self.mapping
        value, scale = self._cell(row, m.probability), m.probability_scale
        if isinstance(value, str) and value.strip().endswith("%"):
            value, scale = value.strip()[:-1], PERCENT
        try:
            return parse_probability(value, scale, m.probability or "probability")
        except InvalidDelivery as exc:
            raise RowRefused(exc.reason) from None

    def _deal(self, row: dict, record: str) -> list[dict]:
        m = self.mapping
        deal_id = f"{self.config.deal_id_prefix}{record}"
        attrs = self._attrs(row)
        created = self._time(row, m.created_at)
        events = []
        if created is not None:
            kind = created_or_updated(attrs)
            if kind == "deal.created" or attrs:
                role = ("created", rfc3339(created), sorted(attrs.items()))
                events.append(self._deal_event(kind, record, role, deal_id, created, attrs))
        elif attrs:
            raise RowRefused(f"{m.created_at}: missing (when the deal was created)")
        stage = self._text(row, m.stage)
        if stage in m.won_stages or stage in m.lost_stages:
            status = "won" if stage in m.won_stages else "lost"
            specific = m.won_at if status == "won" else m.lost_at
            at = self._time(row, specific) or self._time(row, m.closed_at)
            if at is None:
                columns = " or ".join(c for c in (specific, m.closed_at) if c) or "a close time"
                raise RowRefused(f"{columns}: missing (when the deal was {status})")
            reason = self._text(row, m.lost_reason) if status == "lost" else None
            extra = {"reason": reason} if reason else {}
            role = (status, stage, rfc3339(at))
            events.append(self._deal_event(f"deal.{status}", record, role, deal_id, at, extra))
        return events

    def _deal_event(
        self, kind: str, record: str, role: tuple, deal_id: str, at: datetime, attrs: dict
    ) -> dict:
        event_id = native_event_id(self.vendor, "export", record, *role)
        return deal_event(kind, event_id, deal_id, at, self.vendor, attrs)

    def _call(self, row: dict, record: str) -> dict:
        m = self.mapping
        at = self._time(row, m.created_at)
        if at is None:
            raise RowRefused(f"{m.created_at}: missing (when the call took place)")
        event = {
            "event_id": native_event_id(self.vendor, "export", record, "call", rfc3339(at)),
            "type": "call.logged",
            "occurred_at": rfc3339(at),
            "source": self.vendor,
            **self._people(row),
        }
        deal = self._text(row, m.deal_ref)
        if deal is not None:
            event["deal_id"] = f"{self.config.deal_id_prefix}{deal}"
        return event
