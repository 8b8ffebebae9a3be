"""occurred_at: an RFC 3339 instant with an explicit offset, not too far in the future."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from events.models import DealWon, EventPolicy, InvalidEvent, validate_event

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
POLICY = EventPolicy(clock=lambda: NOW)
TIMESTAMP_RULE = (
    "occurred_at: must be an RFC 3339 timestamp with an offset (e.g. 2026-02-14T15:20:00Z)"
)


def won_at(occurred_at: object) -> dict:
    return {"event_id": "ev-1", "type": "deal.won", "deal_id": "d-1", "occurred_at": occurred_at}


def reasons_for(obj: object, policy: EventPolicy = POLICY) -> list[str]:
    with pytest.raises(InvalidEvent) as refused:
        validate_event(obj, policy)
    return refused.value.reasons


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-02-14T15:20:00Z", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14t15:20:00z", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14T15:20:00+00:00", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14T15:20:00-00:00", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14T16:20:00+01:00", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14T09:50:00-05:30", datetime(2026, 2, 14, 15, 20, tzinfo=UTC)),
        ("2026-02-14T15:19:59.5Z", datetime(2026, 2, 14, 15, 19, 59, 500000, tzinfo=UTC)),
        ("2026-02-14T15:19:59.123456789Z", datetime(2026, 2, 14, 15, 19, 59, 123456, tzinfo=UTC)),
        ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2026-01-01T00:30:00+01:00", datetime(2025, 12, 31, 23, 30, tzinfo=UTC)),
    ],
)
def test_an_rfc_3339_timestamp_with_an_offset_is_accepted_as_a_utc_instant(text, instant):
    occurred_at = validate_event(won_at(text), POLICY).occurred_at
    assert occurred_at == instant
    assert occurred_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2026-01-01T10:00:00", id="naive"),
        pytest.param("2026-01-01T10:00:00.250", id="naive-fraction"),
        pytest.param("yesterday", id="words"),
        pytest.param("2026-02-14", id="date-only"),
        pytest.param("15:20:00Z", id="time-only"),
        pytest.param(1771082400, id="epoch-seconds"),
        pytest.param(1771082400.5, id="epoch-float"),
        pytest.param("1771082400", id="epoch-string"),
        pytest.param("2026-02-14 15:20:00Z", id="space-separator"),
        pytest.param("2026-02-14T15:20Z", id="no-seconds"),
        pytest.param("2026-02-14T15:20:00+0100", id="offset-without-colon"),
        pytest.param("2026-02-14T15:20:00+01", id="offset-hours-only"),
        pytest.param("2026-02-14T15:20:00+24:00", id="offset-24h"),
        pytest.param("2026-02-14T15:20:00+01:60", id="offset-60min"),
        pytest.param("2026-02-14T15:20:00.Z", id="empty-fraction"),
        pytest.param("2026-02-30T10:00:00Z", id="february-30"),
        pytest.param("2026-02-14T24:00:00Z", id="hour-24"),
        pytest.param("2026-12-31T23:59:60Z", id="leap-second"),
        pytest.param("0000-01-01T00:00:00Z", id="year-0"),
        pytest.param("0001-01-01T00:00:00+01:00", id="before-datetime-min"),
        pytest.param(" 2026-02-14T15:20:00Z", id="leading-space"),
        pytest.param("2026-02-14T15:20:00Z\n", id="trailing-newline"),
        pytest.param("٢٠٢٦-02-14T15:20:00Z", id="non-ascii-digits"),
        pytest.param("", id="empty"),
        pytest.param(None, id="null"),
        pytest.param({"at": "2026-02-14T15:20:00Z"}, id="object"),
    ],
)
def test_anything_but_an_rfc_3339_timestamp_with_an_offset_is_refused(value):
    assert reasons_for(won_at(value)) == [TIMESTAMP_RULE]


def test_a_naive_timestamp_is_refused_with_a_reason_naming_occurred_at():
    [reason] = reasons_for(won_at("2026-02-14T15:20:00"))
    assert reason.startswith("occurred_at: ")


@pytest.mark.parametrize(
    "offset",
    [timedelta(days=-400), timedelta(0), timedelta(minutes=4, seconds=59), timedelta(minutes=5)],
)
def test_an_event_up_to_5_minutes_in_the_future_is_accepted(offset):
    at = NOW + offset
    assert validate_event(won_at(at.isoformat()), POLICY).occurred_at == at


@pytest.mark.parametrize(
    "offset",
    [timedelta(minutes=5, microseconds=1), timedelta(minutes=5, seconds=1), timedelta(days=1)],
)
def test_an_event_more_than_5_minutes_in_the_future_is_refused(offset):
    at = (NOW + offset).astimezone(timezone(timedelta(hours=2)))  # the offset must not matter
    [reason] = reasons_for(won_at(at.isoformat()))
    assert reason.startswith("occurred_at: must not be more than 5 minutes in the future (got ")
    assert reason.endswith("now is 2026-02-14T15:20:00Z)")


def test_the_future_limit_comes_from_the_policy():
    strict = EventPolicy(max_future=timedelta(0), clock=lambda: NOW)
    assert validate_event(won_at("2026-02-14T15:20:00Z"), strict)
    [reason] = reasons_for(won_at("2026-02-14T15:20:01Z"), strict)
    assert reason.startswith("occurred_at: must not be more than 0 minutes in the future")


def test_the_policy_clock_is_read_at_validation_time():
    ticks = iter([NOW, NOW + timedelta(hours=1)])
    policy = EventPolicy(clock=lambda: next(ticks))
    later = won_at("2026-02-14T16:00:00Z")
    assert reasons_for(later, policy)[0].startswith("occurred_at: must not be more")
    assert validate_event(later, policy).occurred_at == datetime(2026, 2, 14, 16, tzinfo=UTC)


def test_python_code_may_build_an_event_from_an_aware_datetime_without_a_policy():
    at = datetime(2030, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    event = DealWon(event_id="ev-1", type="deal.won", occurred_at=at, deal_id="d-1")
    assert event.occurred_at == at
    assert event.occurred_at.tzinfo is UTC


def test_python_code_may_not_build_an_event_from_a_naive_datetime():
    with pytest.raises(ValueError, match="occurred_at"):
        DealWon(event_id="ev-1", type="deal.won", occurred_at=datetime(2026, 1, 1), deal_id="d-1")


def test_an_aware_datetime_in_a_python_dict_is_checked_against_the_policy_too():
    [reason] = reasons_for(won_at(NOW + timedelta(hours=1)))
    assert reason.startswith("occurred_at: must not be more than 5 minutes in the future")
