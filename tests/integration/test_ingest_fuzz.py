"""The ingest API fuzzed from its OpenAPI document (schemathesis), in-process, on the real broker.

Every operation gets schema-valid and schema-violating requests (bodies, headers, methods). What
must hold for all of them: no 5xx; every answer, refusals included, matches the documented status
codes, content types and schemas (refusals are the ``Error`` JSON); a request without the bearer
token is refused; a schema-violating body is refused with a 4xx; and a schema-valid event is
either accepted or refused only for what the schema cannot say (event time too far in the future
or outside the kept instants, a currency without a rate).

Then hypothesis sends what a schema generator rarely reaches: extreme timestamps, amounts written
as raw JSON numbers (``1e1000000``, 2^64, -0), ids at and past their limits, bodies at the size
limit and batches past theirs. Finally the log is read back: it holds exactly the events the 2xx
answers reported, so no refused request published anything.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections import Counter
from collections.abc import Iterator

import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from events.ingest_api import create_ingest_app
from events.settings import Settings
from events.topics import TopicNames
from tests.support.crm import (
    HUBSPOT_SECRET,
    PIPEDRIVE_PASSWORD,
    PIPEDRIVE_USER,
    SALESFORCE_ORG,
    SALESFORCE_TOKEN,
    basic_auth,
)
from tests.support.kafka import create_event_topics, new_topic_prefix, read_topic

pytestmark = pytest.mark.integration

TOKEN = f"fuzz-{uuid.uuid4().hex}"
MAX_EXAMPLES = 100
POLICY_REASONS = (
    "occurred_at: must not be more than",
    "occurred_at: must not be before",
    "occurred_at: must be before",
    "currency: must be the reporting currency",
)
"""Refusals of schema-valid events that only the deployment's policy or the kept range of
instants explains (JSON Schema has no bound for a date-time)."""
TIMESTAMP_REASON = "occurred_at: must be an RFC 3339 timestamp"
LEAP_SECOND = re.compile(r"[Tt ]\d\d:\d\d:60")
BODY_LIMIT = 256 * 1024
EXTREME_EXAMPLES = 150


def ingest_settings(**fields) -> Settings:
    return Settings(
        partitions=2,
        ingest_token=TOKEN,
        ingest_max_body_bytes=BODY_LIMIT,
        hubspot_client_secret=HUBSPOT_SECRET,
        pipedrive_user=PIPEDRIVE_USER,
        pipedrive_password=PIPEDRIVE_PASSWORD,
        salesforce_organization_id=SALESFORCE_ORG,
        salesforce_token=SALESFORCE_TOKEN,
        **fields,
    )


class LateApp:
    """The ASGI app under test, known only once the broker is (``ingest_app`` plugs it in).

    The schema must name its app when it is built, at collection time, for every check to reach
    the app in-process (ignored_auth re-sends without credentials through the schema's own
    transport). schemathesis' ``from_fixture`` loader, meant for this, does not run on pytest 9:
    it sets ``Node._nodeid``, which pytest 9 removed.
    """

    def __init__(self) -> None:
        self.app = None

    async def __call__(self, scope, receive, send) -> None:
        assert self.app is not None, "requested before the ingest_app fixture"
        await self.app(scope, receive, send)


LATE_APP = LateApp()
schema = schemathesis.openapi.from_dict(create_ingest_app(ingest_settings()).openapi())
schema.app = LATE_APP
schema.config.update(base_url="http://testserver")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)
# A schema-violating request must be refused: 413 is how an over-long batch is (contract section 6).
schema.config.checks.negative_data_rejection.expected_statuses = [
    "400",
    "401",
    "404",
    "405",
    "413",
    "422",
]


@pytest.fixture(scope="module")
def fuzz_prefix() -> str:
    """Topic prefix of the fuzzed app: every record under it comes from this module's requests."""
    return new_topic_prefix("fuzz")


@pytest.fixture(scope="module")
def ingest_app(kafka_bootstrap: str, fuzz_prefix: str) -> Iterator[object]:
    prefix = fuzz_prefix
    asyncio.run(create_event_topics(kafka_bootstrap, prefix, partitions=2))
    app = create_ingest_app(ingest_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix))
    assert app.openapi() == schema.raw_schema, "the fuzzed document is the one served"
    LATE_APP.app = app
    yield app
    asgi.shutdown_lifespans()  # the app's lifespan closes its Kafka producer
    LATE_APP.app = None


SEEN: Counter[tuple[str, str, int]] = Counter()
"""(path, generation mode, status) of every answer: proof of what the fuzzing reached."""
ACCEPTED: Counter[str] = Counter()
"""Events the 2xx answers reported stored, by who sent them (schemathesis or a fuzz request)."""


def record(ctx, response, case) -> bool | None:
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    SEEN[(case.path, mode, response.status_code)] += 1
    if case.method.upper() == "POST" and 200 <= response.status_code < 300:
        ACCEPTED["schemathesis"] += _accepted_count(case.path, response)
    return None


def _accepted_count(path: str, response) -> int:
    """What a 2xx says was stored; a Salesforce Ack gives no count (none is expected here)."""
    assert path != "/v1/webhooks/salesforce", "a fuzzed Outbound Message was acknowledged"
    return response.json()["accepted"]


def refusals_are_json_errors(ctx, response, case) -> bool | None:
    """Every 4xx/5xx of a JSON operation is ``{"error": {"code": str, "message": str}}``."""
    if response.status_code < 400 or case.path == "/v1/webhooks/salesforce":
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return True


def valid_events_are_refused_only_for_policy(ctx, response, case) -> bool | None:
    """A schema-valid body to POST /v1/events: 202, or 422 for reasons the schema cannot state."""
    if case.path != "/v1/events" or case.meta is None:
        return None
    if case.meta.generation.mode is not GenerationMode.POSITIVE or response.status_code != 422:
        return None
    items = case.body if isinstance(case.body, list) else [case.body]
    unexplained = [
        reason
        for entry in response.json()["error"]["invalid"]
        for reason in entry["reasons"]
        if not reason.startswith(POLICY_REASONS)
        and not (reason.startswith(TIMESTAMP_REASON) and _leap_second(items[entry["index"]]))
    ]
    assert not unexplained, f"schema-valid events refused: {unexplained}"
    return True


def _leap_second(event: object) -> bool:
    """RFC 3339 (so the schema's date-time) has 23:59:60; the contract, like datetime, has not."""
    moment = event.get("occurred_at") if isinstance(event, dict) else None
    return isinstance(moment, str) and LEAP_SECOND.search(moment) is not None


def headers_for(case) -> dict[str, str]:
    if case.path == "/v1/events":
        return {"Authorization": f"Bearer {TOKEN}"}
    if case.path == "/v1/webhooks/pipedrive":
        return basic_auth()
    if case.path == "/v1/webhooks/salesforce":  # its only credential is the URL's token
        case.query = {**(case.query or {}), "token": SALESFORCE_TOKEN}
    return {}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_the_spec_can_describe_gets_a_server_error_or_an_undocumented_answer(
    case, ingest_app
):
    case.call_and_validate(
        headers=headers_for(case),
        excluded_checks=[positive_data_acceptance],
        additional_checks=[
            record,
            refusals_are_json_errors,
            valid_events_are_refused_only_for_policy,
        ],
    )


def test_the_fuzzing_reached_acceptance_and_every_kind_of_refusal():
    """Runs after the fuzzing above (file order): its cases got the answers that matter."""
    events = {(mode, status): n for (path, mode, status), n in SEEN.items() if path == "/v1/events"}
    statuses = {status for _, status in events}

    assert sum(SEEN.values()) >= 300, SEEN
    assert {202, 400, 401, 422} <= statuses, events
    assert events.get(("positive", 202), 0) >= 5, events
    assert all(status < 500 for _, _, status in SEEN), SEEN


# --- extremes: what a schema generator rarely reaches --------------------------------------------

REQUEST_NUMBERS = itertools.count()
MARKER = "fuzz_request"
"""An extra field naming the extreme request an event came in (unknown fields are kept)."""


def text(value: str) -> str:
    return orjson.dumps(value).decode()


TIMESTAMPS = (
    st.sampled_from(
        [
            "2026-02-14T10:00:00Z",
            "0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999Z",
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:00+00:01",
            "8999-12-31T23:59:59.999999Z",
            "9000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999-23:59",
            "2026-02-14T10:00:00+14:00",
            "2026-02-14T23:59:60Z",
            "2026-02-14T10:00:00.1234567890123456789Z",
            "+02026-02-14T10:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-02-14",
            "1771082400000",
        ]
    ).map(text)
    | st.datetimes(timezones=st.timezones()).map(lambda t: text(t.isoformat()))
    | (st.sampled_from(["0", "-1", "1e308", "1771082400000", "null", "[]"]))
)
AMOUNTS = (
    st.sampled_from(
        [
            "0",
            "-0",
            "-0.0",
            "1e12",
            "1000000000000.000001",
            "1000000000001",
            "1e13",
            "1e308",
            "1e-320",
            "5e-324",
            "1e1000000",
            "-1e1000000",
            "18446744073709551616",
            "9223372036854775808",
            "123456789012345678901234567890",
            "0." + "0" * 400 + "1",
            '"1e1000000"',
            '"12"',
            "true",
            "null",
        ]
    )
    | st.integers(min_value=-(2**70), max_value=2**70).map(str)
    | st.floats().map(lambda f: orjson.dumps(f).decode())
)
IDS = (
    st.sampled_from(
        ["", " ", "a" * 128, "a" * 129, "\U0001f600" * 128, "\U0001f600" * 129, "x" * 20_000]
    ).map(text)
    | st.sampled_from(['"\\u0000"', '"\\ud800"', '"a\\u202eb"', "1", "null"])
    | (st.text(max_size=140).map(text))
)


@st.composite
def extreme_events(draw, request: int) -> str:
    """One event as raw JSON text: a valid skeleton, each value extreme one time in four."""

    def value(normal: str, extremes: st.SearchStrategy[str]) -> str:
        return draw(extremes) if draw(st.integers(0, 3)) == 0 else normal

    kind = draw(st.sampled_from(["deal.created", "call.logged", "cost.incurred"]))
    fields = {
        "event_id": value(text(f"x{request}-{uuid.uuid4().hex[:8]}"), IDS),
        "type": text(kind),
        "occurred_at": value(text("2026-02-14T10:00:00Z"), TIMESTAMPS),
        MARKER: str(request),
    }
    if kind == "deal.created":
        fields |= {"deal_id": value(text("d-1"), IDS), "rep_id": text("r"), "team_id": text("t")}
        fields |= {"customer_id": value(text("c-1"), IDS), "amount": value("12.5", AMOUNTS)}
    elif kind == "call.logged":
        fields |= {"rep_id": value(text("rep-1"), IDS), "team_id": text("team-1")}
    else:
        fields |= {"category": text("marketing"), "amount": value("99", AMOUNTS)}
    if draw(st.integers(0, 9)) == 0:  # now and then, padded up to around the body limit
        fields["note"] = text("n" * draw(st.integers(BODY_LIMIT - 2048, BODY_LIMIT + 64)))
    return "{" + ",".join(f"{text(name)}:{value}" for name, value in fields.items()) + "}"


@st.composite
def extreme_bodies(draw) -> tuple[int, bytes]:
    """(request number, body): one event, a batch of 1 to 4, or a batch past the limit."""
    request = next(REQUEST_NUMBERS)
    shape = draw(st.sampled_from(["one", "few", "few", "few", "too_many"]))
    if shape == "one":
        return request, draw(extreme_events(request)).encode()
    count = 1001 if shape == "too_many" else draw(st.integers(1, 4))
    first = draw(extreme_events(request))
    events = [first] * count if shape == "too_many" else [first]
    events += [draw(extreme_events(request)) for _ in range(len(events), count)]
    return request, ("[" + ",".join(events) + "]").encode()


@given(body=extreme_bodies())
@example(body=(0, b'[{"event_id": "broken"'))  # invalid JSON: 400, whatever was drawn
@example(body=(0, b"[" + b" " * BODY_LIMIT + b"]"))  # over the body limit: 413
@settings(
    max_examples=EXTREME_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_extreme_values_are_accepted_or_refused_with_a_json_4xx_never_a_5xx(body, ingest_app):
    request, content = body
    with asgi.get_client(LATE_APP) as client:
        response = client.post(
            "http://testserver/v1/events",
            data=content,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )

    SEEN[("/v1/events", "extreme", response.status_code)] += 1
    assert response.status_code in (202, 400, 413, 422), response.text[:500]
    answer = response.json()
    if response.status_code == 202:
        ACCEPTED[str(request)] += answer["accepted"]
        ACCEPTED["extreme"] += answer["accepted"]
    else:
        assert set(answer["error"]) >= {"code", "message"}, answer


def test_the_log_holds_exactly_what_was_acknowledged_so_no_refusal_published_anything(
    kafka_bootstrap, fuzz_prefix
):
    """Runs last (file order): every record under the prefix is accounted for by a 2xx."""
    names = TopicNames(fuzz_prefix)
    expected = ACCEPTED["schemathesis"] + ACCEPTED["extreme"]
    records = []
    for topic in names.event_topics:
        records += asyncio.run(read_topic(kafka_bootstrap, topic, timeout_s=10))
    markers = Counter(
        str(event[MARKER])
        for event in (orjson.loads(r.value) for r in records)
        if isinstance(event, dict) and MARKER in event
    )
    extreme_statuses = {status for (_, mode, status) in SEEN if mode == "extreme"}

    assert len(records) == expected, (len(records), dict(ACCEPTED))
    assert markers == {n: c for n, c in ACCEPTED.items() if n.isdigit()}
    assert ACCEPTED["extreme"] >= 5, "the extremes should include events that are fine"
    assert {202, 400, 413, 422} <= extreme_statuses, SEEN
