"""What the ingest edge answers when publishing cannot work: in process, with a stand-in publisher.

A 503 says "retry later" and nothing about the broker (its addresses are for the log only); an
event Kafka can never store is a 422 naming it, sized before anything is sent; shared secrets
compare in constant time and an empty one never matches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import httpx
import pytest

from events.auth import bearer_matches, bytes_match, secret_matches
from events.http_edge import Refusal, validate_all
from events.ingest_api import create_ingest_app
from events.publisher import (
    MAX_RECORD_BYTES,
    BrokerUnavailable,
    Outgoing,
    RecordTooLarge,
    refuse_oversized,
)
from events.settings import Settings
from events.topics import TopicNames
from tests.support.crm import SALESFORCE_PATH, soap_notifications, webhook_settings
from tests.support.factories import POLICY
from tests.support.native import call_logged, deal_created

INTERNAL = "KafkaConnectionError('Unable to bootstrap from [(\"10.0.0.5\", 9092, 2)]')"
NAMES = TopicNames("t.")


class StandInPublisher:
    """A publisher whose every call fails with ``failure``; records what it was asked to send."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure
        self.sent: list[Outgoing] = []

    async def publish(self, batch: Sequence[Outgoing]) -> None:
        self.sent += batch
        raise self.failure

    async def check(self) -> None:
        raise self.failure

    async def close(self) -> None:
        return None


@pytest.fixture
def make_client() -> Callable[[Exception], httpx.AsyncClient]:
    """Factory: a client of an ingest app whose publisher always fails with ``failure``."""

    def build(failure: Exception) -> httpx.AsyncClient:
        app = create_ingest_app(Settings(**webhook_settings()), publisher=StandInPublisher(failure))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")

    return build


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/readyz", {}),
        ("POST", "/v1/events", {"json": call_logged("c-1")}),
        (
            "POST",
            SALESFORCE_PATH,
            {
                "content": soap_notifications(
                    "00D5g000004ABCDEAZ", [("04l1", {"Id": "006X", "Amount": "5"})]
                )
            },
        ),
    ],
    ids=["readyz", "events", "salesforce"],
)
async def test_a_503_names_no_broker_address_and_the_log_keeps_the_cause(
    make_client, caplog, method, path, kwargs
):
    client = make_client(BrokerUnavailable(f"Kafka is not reachable: {INTERNAL}"))

    with caplog.at_level(logging.WARNING):
        response = await client.request(method, path, **kwargs)

    assert response.status_code == 503
    assert "10.0.0.5" not in response.text
    assert "Kafka" not in response.text
    assert "10.0.0.5:9092" not in response.text
    assert any("10.0.0.5" in record.getMessage() for record in caplog.records)


async def test_a_503_is_a_sentence_a_client_can_act_on(make_client):
    client = make_client(BrokerUnavailable(INTERNAL))

    ready = (await client.get("/readyz")).json()["error"]
    posted = (await client.post("/v1/events", json=call_logged("c-1"))).json()["error"]

    assert ready == {"code": "broker_unavailable", "message": "the broker is not reachable"}
    assert posted["code"] == "broker_unavailable"
    assert posted["message"].startswith("the broker did not acknowledge the events")
    assert set(posted) == {"code", "message"}


async def test_an_event_the_broker_refuses_as_too_large_is_a_422_not_a_503(make_client):
    client = make_client(
        RecordTooLarge(1, "event: the broker refused it as too large", partial=True)
    )

    response = await client.post("/v1/events", json=[call_logged("c-1"), call_logged("c-2")])

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "event_too_large"
    assert error["invalid"] == [
        {"index": 1, "event_id": None, "reasons": ["event: the broker refused it as too large"]}
    ]


def padded(event: dict, characters: int) -> dict:
    return {**event, "note": "x" * characters}


@pytest.mark.parametrize("position", [0, 1, 2])
def test_validate_all_refuses_an_event_over_the_message_limit_by_its_index(position):
    items = [call_logged("c-1"), deal_created("d-1"), call_logged("c-2")]
    items[position] = padded(items[position], MAX_RECORD_BYTES)

    with pytest.raises(Refusal) as refused:
        validate_all(items, POLICY, NAMES)

    assert refused.value.status == 422
    [entry] = refused.value.extra["invalid"]
    assert entry["index"] == position
    assert entry["reasons"][0].endswith(
        f"over the limit of {MAX_RECORD_BYTES:,} bytes per message (a retry cannot succeed)"
    )


async def test_the_publisher_sends_nothing_of_a_batch_holding_a_record_over_the_limit():
    batch = [
        Outgoing("t", b"k", b"v"),
        Outgoing("t", b"k", b"v" * MAX_RECORD_BYTES),
        Outgoing("t", b"k", b"v"),
    ]

    with pytest.raises(RecordTooLarge) as refused:
        refuse_oversized(batch)

    assert (refused.value.index, refused.value.partial) == (1, False)


@pytest.mark.parametrize(
    ("given", "secret", "matches"),
    [
        ("s3cret", "s3cret", True),
        ("s3cret", "s3cre", False),
        ("s3cre", "s3cret", False),
        ("S3CRET", "s3cret", False),
        (None, "s3cret", False),
        ("", "", False),
        (None, "", False),
        ("caf\u00e9", "caf\u00e9", True),
        ("\udcff", "\udcff", True),
    ],
)
def test_a_shared_secret_matches_only_itself_and_never_when_empty(given, secret, matches):
    assert secret_matches(given, secret) is matches


@pytest.mark.parametrize(
    ("header", "matches"),
    [("Bearer t0k", True), ("bearer t0k", True), ("Basic t0k", False), ("Bearer ", False)],
)
def test_a_bearer_header_matches_with_any_scheme_case_and_the_exact_token(header, matches):
    assert bearer_matches(header, "t0k") is matches


@pytest.mark.parametrize(
    ("given", "secret", "matches"),
    [
        (b"pipedrive", b"pipedrive", True),
        (b"pipedriv", b"pipedrive", False),
        (b"pipedrive-longer", b"pipedrive", False),
        (b"", b"", True),
        (b"\xff\x00", b"\xff\x00", True),
    ],
)
def test_basic_credentials_are_compared_as_digests_equal_only_to_themselves(given, secret, matches):
    assert bytes_match(given, secret) is matches
