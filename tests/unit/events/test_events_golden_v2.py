"""Golden v2 (contract section 8) at the edge: exactly its 11 invalid lines are refused, each for
the field that makes it invalid, and every valid line keeps its segment and probability."""

import json
from datetime import UTC, datetime
from functools import cache

from events.models import EventPolicy, InvalidEvent, validate_event
from tests.support.golden import GOLDEN_DIR

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
GOLDEN_V2 = GOLDEN_DIR / "v2" / "events.jsonl"

BAD_TIMESTAMP = (
    "occurred_at: must be an RFC 3339 timestamp with an offset (e.g. 2026-02-14T15:20:00Z)"
)
EXPECTED_REFUSALS = {
    # line index: (event_id, the one reason)
    149: ("bad-2", BAD_TIMESTAMP),
    255: ("bad-7", BAD_TIMESTAMP),
    289: ("bad-v2-2", "probability: must be a number between 0 and 1, not a string"),
    372: ("bad-8", "amount: must be a number >= 0, not a string"),
    473: ("bad-v2-1", "probability: must be a number between 0 and 1, not 1.5"),
    540: ("bad-5", "team_id: required for call.logged"),
    873: ("bad-4", "category: must be 'marketing' or 'sales', not 'party'"),
    1398: (
        "bad-1",
        "type: unknown event type 'deal.teleported' (expected one of deal.created, "
        "deal.updated, deal.won, deal.lost, deal.reopened, call.logged, cost.incurred)",
    ),
    1707: ("bad-v2-3", "segment: must be a string of 1 to 64 characters"),
    1885: ("", "event_id: must be a string of 1 to 128 characters"),
    2256: ("bad-3", "amount: must be a number >= 0, not -5"),
}
V2_REFUSALS = {289: "probability", 473: "probability", 1707: "segment"}
"""The 3 lines v2 adds: valid under v1's rules, refused for a v2 attribute."""


@cache
def golden_v2_lines() -> tuple[str, ...]:
    return tuple(GOLDEN_V2.read_text(encoding="utf-8").splitlines())


def golden_v2_objects() -> list[dict]:
    return [json.loads(line) for line in golden_v2_lines()]


@cache
def outcomes() -> tuple[dict[int, object], dict[int, list[str]]]:
    """Line index -> the validated event, and line index -> the reasons of its refusal."""
    accepted, refused = {}, {}
    for index, obj in enumerate(golden_v2_objects()):
        try:
            accepted[index] = validate_event(obj, POLICY)
        except InvalidEvent as error:
            refused[index] = error.reasons
    return accepted, refused


def test_every_valid_golden_v2_event_validates_and_exactly_the_11_invalid_ones_are_refused():
    accepted, refused = outcomes()
    objects = golden_v2_objects()
    assert (len(objects), len(accepted), len(refused)) == (2357, 2346, 11)
    assert {i: (objects[i]["event_id"], reasons) for i, reasons in refused.items()} == {
        i: (event_id, [reason]) for i, (event_id, reason) in EXPECTED_REFUSALS.items()
    }


def test_the_3_lines_v2_adds_are_refused_naming_segment_or_probability():
    objects = golden_v2_objects()
    _, refused = outcomes()
    for index, field in V2_REFUSALS.items():
        assert objects[index]["event_id"].startswith("bad-v2-")
        [reason] = refused[index]
        assert reason.startswith(f"{field}: must be ")


def test_every_valid_golden_v2_event_keeps_the_segment_and_probability_of_its_line():
    accepted, _ = outcomes()
    objects = golden_v2_objects()
    carried = {"segment": 0, "probability": 0}
    for index, event in accepted.items():
        for field in carried:
            if field in objects[index]:
                carried[field] += 1
                assert getattr(event, field) == objects[index][field]
                if event.type.startswith("deal."):
                    assert event.attributes()[field] == objects[index][field]
    assert carried == {"segment": 563, "probability": 610}
