"""Contract section 5, JSON read API parameters: every 400 rule of ``parse_kpi_query``."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from events.timestamps import EARLIEST_INSTANT, LATEST_INSTANT
from projections.effects import SCOPES
from projections.query import (
    KpiQuery,
    QueryError,
    key_listing,
    kpi_answer,
    parse_kpi_query,
    parse_scope_filter,
    render_instant,
)
from projections.readout import read_kpis
from projections.timebase import BucketGrid
from projections.windows import WINDOWS

NOW = datetime(2026, 2, 14, 15, 20, tzinfo=UTC)
AS_OF_RULE = "as_of: must be an RFC 3339 timestamp with an offset, e.g. 2026-02-14T15:20:00Z"
SCOPE_RULE = "scope: must be one of rep, team, company, channel, segment"
WINDOW_RULE = "window: must be one of 1h, 24h, 7d, 30d, mtd, qtd"


def parse(**params: str) -> KpiQuery:
    return parse_kpi_query(params, NOW)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (dict(scope="team", id="team-1", window="30d"), ("team", "team-1", "30d", "team|team-1")),
        (dict(scope="rep", id="rep-1", window="1h"), ("rep", "rep-1", "1h", "rep|rep-1")),
        (
            dict(scope="channel", id="email", window="qtd"),
            ("channel", "email", "qtd", "channel|email"),
        ),
        (dict(scope="company", window="mtd"), ("company", "", "mtd", "company|")),
        (dict(scope="company", id="", window="24h"), ("company", "", "24h", "company|")),
        (dict(scope="team", id="t 1|x", window="7d"), ("team", "t 1|x", "7d", "team|t 1|x")),
    ],
)
def test_a_valid_query_names_its_key_and_defaults_as_of_to_now(params, expected):
    query = parse(**params)
    assert (query.scope, query.scope_id, query.window, query.key) == expected
    assert query.as_of == NOW


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(dict(id="t", window="1h"), SCOPE_RULE, id="scope-missing"),
        pytest.param(dict(scope="", id="t", window="1h"), SCOPE_RULE, id="scope-empty"),
        pytest.param(dict(scope="Team", id="t", window="1h"), SCOPE_RULE, id="scope-case"),
        pytest.param(dict(scope="teams", id="t", window="1h"), SCOPE_RULE, id="scope-unknown"),
        pytest.param(
            dict(scope="team", window="1h"), "id: required for scope=team", id="team-id-missing"
        ),
        pytest.param(
            dict(scope="rep", id="", window="1h"), "id: required for scope=rep", id="rep-id-empty"
        ),
        pytest.param(
            dict(scope="channel", window="1h"),
            "id: required for scope=channel",
            id="channel-id-missing",
        ),
        pytest.param(
            dict(scope="company", id="acme", window="1h"),
            "id: must be empty for scope=company",
            id="company-with-id",
        ),
        pytest.param(dict(scope="team", id="t"), WINDOW_RULE, id="window-missing"),
        pytest.param(dict(scope="team", id="t", window=""), WINDOW_RULE, id="window-empty"),
        pytest.param(dict(scope="team", id="t", window="1d"), WINDOW_RULE, id="window-unknown"),
        pytest.param(dict(scope="team", id="t", window="MTD"), WINDOW_RULE, id="window-case"),
    ],
)
def test_bad_scope_id_or_window_is_a_400_naming_the_parameter(params, message):
    with pytest.raises(QueryError) as refused:
        parse(**params)
    assert str(refused.value) == message
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param("2026-02-14T15:20:00", id="naive"),
        pytest.param("2026-02-14T15:20:00.123", id="naive-fraction"),
        pytest.param("2026-02-14", id="date-only"),
        pytest.param("2026-02-14+01:00", id="date-with-offset"),
        pytest.param("garbage", id="garbage"),
        pytest.param("now", id="word"),
        pytest.param("1771082400", id="epoch-seconds"),
        pytest.param("2026-02-30T00:00:00Z", id="no-such-day"),
        pytest.param("2026-02-14T24:00:00Z", id="hour-24"),
        pytest.param("2026-02-14T15:20:60Z", id="leap-second"),
        pytest.param("2026-02-14T15:20:00+24:00", id="offset-out-of-range"),
        pytest.param("2026-02-14T15:20:00Z[Europe/Paris]", id="zone-suffix"),
        pytest.param("T", id="just-t"),
    ],
)
def test_a_naive_or_garbage_as_of_is_a_400(as_of):
    with pytest.raises(QueryError) as refused:
        parse(scope="company", window="1h", as_of=as_of)
    assert str(refused.value) == AS_OF_RULE


@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param("2026-02-14T15Z", id="hour-only"),
        pytest.param("2026-02-14T15:20Z", id="no-seconds"),
        pytest.param("2026-W07-6T15:20:00Z", id="iso-week-date"),
        pytest.param("20260214T152000Z", id="iso-basic-format"),
        pytest.param("2026-02-14T15:20:00+0100", id="offset-without-colon"),
        pytest.param("2026-02-14T15:20:00+01", id="offset-hours-only"),
    ],
)
def test_an_as_of_that_is_iso_8601_but_not_rfc_3339_is_a_400(as_of):
    with pytest.raises(QueryError) as refused:
        parse(scope="company", window="1h", as_of=as_of)
    assert str(refused.value) == AS_OF_RULE


OFFSET_1 = timezone(timedelta(hours=1))
OFFSET_530 = timezone(timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("as_of", "moment"),
    [
        pytest.param("2026-02-14T15:20:00Z", NOW, id="z"),
        pytest.param("2026-02-14t15:20:00z", NOW, id="lower-case-t-and-z"),
        pytest.param("2026-02-14T15:20:00-00:00", NOW, id="unknown-local-offset"),
        pytest.param(
            "2026-02-14T16:20:00+01:00",
            datetime(2026, 2, 14, 16, 20, tzinfo=OFFSET_1),
            id="plus-offset",
        ),
        pytest.param(
            "2026-02-14T16:20:00 01:00",
            datetime(2026, 2, 14, 16, 20, tzinfo=OFFSET_1),
            id="plus-arrived-as-space",
        ),
        pytest.param(
            "2026-02-14T20:50:00 05:30",
            datetime(2026, 2, 14, 20, 50, tzinfo=OFFSET_530),
            id="half-hour-offset-plus-as-space",
        ),
        pytest.param(
            " 2026-02-14T16:20:00+01:00 ",
            datetime(2026, 2, 14, 15, 20, tzinfo=UTC),
            id="surrounding-whitespace",
        ),
        pytest.param("2026-02-14T10:20:00-05:00", NOW, id="minus-offset"),
        pytest.param("2026-02-14T15:20:00.250Z", NOW + timedelta(milliseconds=250), id="fraction"),
        pytest.param(
            "2025-12-31T23:59:59Z", datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), id="year-end"
        ),
    ],
)
def test_as_of_accepts_rfc_3339_with_any_offset(as_of, moment):
    query = parse(scope="team", id="team-1", window="mtd", as_of=as_of)
    assert query.as_of == moment
    assert query.as_of.utcoffset() is not None


def test_an_as_of_in_the_future_or_far_past_is_allowed_it_only_moves_now():
    for as_of in ("2030-01-01T00:00:00Z", "2001-01-01T00:00:00Z"):
        assert parse(scope="company", window="qtd", as_of=as_of).as_of == datetime.fromisoformat(
            as_of
        )


def test_an_empty_as_of_means_now():
    assert parse(scope="company", window="1h", as_of="").as_of == NOW


def test_the_first_bad_parameter_in_contract_order_is_reported():
    with pytest.raises(QueryError, match="^scope:"):
        parse(scope="x", window="x", as_of="x")
    with pytest.raises(QueryError, match="^window:"):
        parse(scope="company", window="x", as_of="x")


@pytest.mark.parametrize(
    ("as_of", "rendered"),
    [
        (datetime(2026, 2, 14, 16, 20, tzinfo=OFFSET_1), "2026-02-14T15:20:00Z"),
        (NOW + timedelta(microseconds=5), "2026-02-14T15:20:00.000005Z"),
    ],
)
def test_the_answer_has_the_contract_shape_with_as_of_in_utc(as_of, rendered):
    query = KpiQuery("company", "", "mtd", as_of)
    kpis = {"revenue": 1.5, "opportunities": 2}
    assert kpi_answer(query, kpis) == {
        "scope": "company",
        "id": "",
        "window": "mtd",
        "as_of": rendered,
        "kpis": kpis,
    }
    assert render_instant(as_of) == rendered


@pytest.mark.parametrize(
    ("params", "scope"),
    [
        ({}, None),
        ({"scope": ""}, None),
        ({"scope": "rep"}, "rep"),
        ({"scope": "company"}, "company"),
    ],
)
def test_a_key_listing_filters_by_an_optional_scope(params, scope):
    assert parse_scope_filter(params) == scope


def test_a_key_listing_refuses_an_unknown_scope():
    with pytest.raises(QueryError, match="scope: must be one of"):
        parse_scope_filter({"scope": "reps"})


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, [("company", ""), ("rep", "r|1"), ("team", "a"), ("team", "b")]),
        ("team", [("team", "a"), ("team", "b")]),
        ("channel", []),
    ],
)
def test_a_key_listing_splits_sorts_and_filters_scope_keys(scope, expected):
    keys = ["team|b", "rep|r|1", "company|", "team|a", "team|a"]

    listing = key_listing(keys, scope)

    assert [(item["scope"], item["id"]) for item in listing] == expected


BOUNDS_RULE = "as_of: must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param("9999-12-31T00:00:00Z", id="year-9999"),
        pytest.param("9000-01-01T00:00:00Z", id="latest-excluded"),
        pytest.param("8999-12-31T23:00:00-01:00", id="latest-reached-through-the-offset"),
        pytest.param("0001-01-01T00:00:00Z", id="year-1"),
        pytest.param("1969-12-31T23:59:59.999999Z", id="just-before-the-epoch"),
        pytest.param("1970-01-01T00:30:00+01:00", id="before-the-epoch-through-the-offset"),
    ],
)
def test_an_as_of_outside_the_representable_era_is_a_400_naming_the_bounds(as_of):
    with pytest.raises(QueryError) as refused:
        parse(scope="company", window="mtd", as_of=as_of)
    assert str(refused.value) == BOUNDS_RULE


@pytest.mark.parametrize(
    ("as_of", "moment"),
    [
        pytest.param("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC), id="earliest"),
        pytest.param(
            "8999-12-31T23:59:59.999999Z",
            datetime(8999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            id="just-before-latest",
        ),
    ],
)
def test_an_as_of_at_the_bounds_of_the_era_is_accepted(as_of, moment):
    assert parse(scope="company", window="qtd", as_of=as_of).as_of == moment


def test_an_id_with_a_lone_surrogate_is_a_400():
    with pytest.raises(QueryError, match="^id: must be valid Unicode text$"):
        parse(scope="rep", id="rep-\ud800", window="1h")


ZONES = ["UTC", "Europe/Paris", "America/St_Johns", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def rfc3339(moment: datetime, offset_minutes: int) -> str:
    """``moment`` written at ``offset_minutes`` from UTC, the way a client would send it."""
    local = moment.replace(tzinfo=None)
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:"
        f"{local.minute:02d}:{local.second:02d}.{local.microsecond:06d}{sign}{hours:02d}:{minutes:02d}"
    )


AS_OFS = st.one_of(
    st.builds(rfc3339, st.datetimes(), st.integers(-(24 * 60 - 1), 24 * 60 - 1)),
    st.sampled_from(["", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "8999-12-31T23:59:59Z"]),
    st.text(max_size=40),
)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "scope": st.one_of(st.sampled_from(SCOPES), st.text(max_size=8)),
        "id": st.text(max_size=40),
        "window": st.one_of(st.sampled_from(WINDOWS), st.text(max_size=4)),
        "as_of": AS_OFS,
    },
)


@settings(max_examples=300, deadline=None, database=None)
@given(params=PARAMS, zone=st.sampled_from(ZONES))
@example(params={"scope": "company", "window": "mtd", "as_of": "9999-12-31T00:00:00Z"}, zone="UTC")
@example(
    params={"scope": "company", "window": "qtd", "as_of": "0001-01-01T00:00:00Z"},
    zone="Pacific/Pago_Pago",
)
@example(
    params={"scope": "team", "id": "t", "window": "qtd", "as_of": "8999-12-31T23:59:59.999999Z"},
    zone="Pacific/Kiritimati",
)
@example(
    params={"scope": "rep", "id": "r", "window": "mtd", "as_of": "1970-01-01T00:00:00Z"},
    zone="Pacific/Pago_Pago",
)
def test_any_query_is_either_a_400_or_an_answer_for_every_window_and_time_zone(params, zone):
    try:
        query = parse_kpi_query(params, NOW)
    except QueryError as refused:
        assert str(refused).split(":")[0] in ("scope", "id", "window", "as_of")
        return
    assert EARLIEST_INSTANT <= query.as_of < LATEST_INSTANT
    kpis = read_kpis(
        lambda key, grid, index: None, query.key, query.window, query.as_of, BucketGrid(zone)
    )
    answer = json.loads(json.dumps(kpi_answer(query, kpis)))
    assert (answer["scope"], answer["id"], answer["window"]) == (
        query.scope,
        query.scope_id,
        query.window,
    )
