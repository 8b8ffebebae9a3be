"""The ingest API fuzzed from its OpenAPI document (schemathesis), in-process, on the real broker.

Every operation gets schema-valid and schema-violating requests (bodies, headers, methods). What
must hold for all of them: no 5xx; every answer, refusals included, matches the documented status
codes, content types and schemas (refusals are the ``Error`` JSON); a request without the bearer
token is refused; a schema-violating body is refused with a 4xx; and a schema-valid event is
either accepted or refused only for what the schema cannot say (event time too far in the future,
a currency without a rate).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from events.ingest_api import create_ingest_app
from streams.settings import Settings
from tests.support.crm import (
    HUBSPOT_SECRET,
    PIPEDRIVE_PASSWORD,
    PIPEDRIVE_USER,
    SALESFORCE_ORG,
    basic_auth,
)
from tests.support.kafka import create_event_topics

pytestmark = pytest.mark.integration

TOKEN = f"fuzz-{uuid.uuid4().hex}"
MAX_EXAMPLES = 100
POLICY_REASONS = ("occurred_at: must not be more than", "currency: must be the reporting currency")
"""Refusals of schema-valid events that only the deployment's policy explains."""


def ingest_settings(**fields) -> Settings:
    return Settings(
        partitions=2,
        ingest_token=TOKEN,
        ingest_max_body_bytes=256 * 1024,
        hubspot_client_secret=HUBSPOT_SECRET,
        pipedrive_user=PIPEDRIVE_USER,
        pipedrive_password=PIPEDRIVE_PASSWORD,
        salesforce_organization_id=SALESFORCE_ORG,
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
def ingest_app(kafka_bootstrap: str) -> Iterator[object]:
    prefix = f"t-fuzz-{uuid.uuid4().hex[:8]}."
    asyncio.run(create_event_topics(kafka_bootstrap, prefix, partitions=2))
    app = create_ingest_app(ingest_settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix))
    assert app.openapi() == schema.raw_schema, "the fuzzed document is the one served"
    LATE_APP.app = app
    yield app
    asgi.shutdown_lifespans()  # the app's lifespan closes its Kafka producer
    LATE_APP.app = None


SEEN: Counter[tuple[str, str, int]] = Counter()
"""(path, generation mode, status) of every answer: proof of what the fuzzing reached."""


def record(ctx, response, case) -> bool | None:
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    SEEN[(case.path, mode, response.status_code)] += 1
    return None


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
    reasons = [r for item in response.json()["error"]["invalid"] for r in item["reasons"]]
    unexplained = [r for r in reasons if not r.startswith(POLICY_REASONS)]
    assert not unexplained, f"schema-valid events refused: {unexplained}"
    return True


def headers_for(case) -> dict[str, str]:
    if case.path == "/v1/events":
        return {"Authorization": f"Bearer {TOKEN}"}
    if case.path == "/v1/webhooks/pipedrive":
        return basic_auth()
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
