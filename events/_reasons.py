"""Turn a pydantic ValidationError into the sentences a client reads.

Clients (CRM webhooks, the HTTP edge's 422, dead-letter headers) get "field: rule" sentences, never
pydantic's own wording or documentation URLs: those change between pydantic releases and name
Python types rather than JSON ones. Field checkers (`events._fields`) already word their refusals;
this module words the few structural errors pydantic raises itself (missing field, unknown type).
"""

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from events._fields import REASON_ERROR, json_kind, shown

NOT_AN_OBJECT = "event: must be a JSON object"

_UNION_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
_NOT_AN_OBJECT_ERRORS = frozenset({"model_type", "model_attributes_type", "dict_type"})
_ABSENT = object()


def reasons_from(error: ValidationError, event_types: Sequence[str]) -> list[str]:
    """One sentence per problem, in field order, without repeats."""
    sentences = (_reason(detail, event_types) for detail in error.errors(include_url=False))
    return list(dict.fromkeys(sentences))


def _reason(detail: Any, event_types: Sequence[str]) -> str:
    kind = detail["type"]
    if kind in _UNION_TAG_ERRORS:
        return _type_reason(detail["input"], event_types)
    event_type, field = _locate(detail["loc"], event_types)
    if kind == REASON_ERROR:
        return f"{field}: {detail['msg']}"
    if kind == "missing":
        return f"{field}: required for {event_type}" if event_type else f"{field}: required"
    if kind in _NOT_AN_OBJECT_ERRORS and field == "event":
        return NOT_AN_OBJECT
    # Not expected with the current models; still never echo pydantic's message.
    return f"{field}: is not valid"


def _type_reason(data: object, event_types: Sequence[str]) -> str:
    expected = ", ".join(event_types)
    tag = data.get("type", _ABSENT) if isinstance(data, dict) else _ABSENT
    if tag is _ABSENT:
        return f"type: required (one of {expected})"
    if isinstance(tag, str):
        return f"type: unknown event type {shown(tag)} (expected one of {expected})"
    return f"type: must be one of {expected}, not {json_kind(tag)}"


def _locate(loc: tuple[int | str, ...], event_types: Sequence[str]) -> tuple[str | None, str]:
    """(event type, field path) of an error: the discriminated union puts the tag first."""
    parts = list(loc)
    event_type = None
    if parts and parts[0] in event_types:
        event_type = str(parts.pop(0))
    field = ".".join(str(part) for part in parts) or "event"
    return event_type, field
