"""Against a broker that requires SASL/SCRAM-SHA-512 (``kafka.sh`` with KAFKA_SASL_SCRAM_USER): the
processes configured with its credentials create topics, publish, fold and serve KPIs; a client
with a wrong password or none is refused with a clear error instead of hanging.

The broker is this module's own (free loopback ports, state under ``.local/``, a password drawn
for the run), started once and deleted at the end, pass or fail; the shared test broker is never
touched.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from events.ingest_api import create_ingest_app
from events.kafka_admin import TopicCreationFailed, ensure_topics
from events.kafka_security import kafka_client_options
from events.settings import Settings
from streams.tools.kafka_io import KafkaToolError, partitions_of, read_snapshot
from tests.support.golden import golden_expected, post_golden_through_api
from tests.support.kafka import create_event_topics, run_broker_script
from tests.support.kpis import compare_all, eventually
from tests.support.native import call_logged, deal_created
from tests.support.stack import StackFactory, free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
USER = "salespulse-test"


@dataclass(frozen=True)
class SaslBroker:
    bootstrap: str
    password: str

    def settings(self, password: str | None = None, **fields) -> Settings:
        """Settings of a client authenticating as ``USER`` (with ``password`` if given)."""
        return Settings(
            _env_file=None,
            kafka_bootstrap=self.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=USER,
            kafka_sasl_password=password or self.password,
            **fields,
        )

    @property
    def env(self) -> dict[str, str]:
        """The same settings for salespulse processes."""
        return {
            "SALESPULSE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "SALESPULSE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "SALESPULSE_KAFKA_SASL_USERNAME": USER,
            "SALESPULSE_KAFKA_SASL_PASSWORD": self.password,
        }


@pytest.fixture(scope="module")
def sasl_broker() -> Iterator[SaslBroker]:
    port = free_port()
    password = secrets.token_hex(16)
    env = {
        "KAFKA_HOST": "127.0.0.1",
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_STATE_DIR": str(REPO / ".local" / f"test-kafka-sasl-{os.getpid()}"),
        "KAFKA_SASL_SCRAM_USER": USER,
        "KAFKA_SASL_SCRAM_PASSWORD": password,
    }
    try:
        started = run_broker_script(KAFKA_SH, ["start"], env, timeout=300)
        assert started.returncode == 0, started.stdout
        assert "SASL_PLAINTEXT SCRAM-SHA-512" in started.stdout
        yield SaslBroker(f"127.0.0.1:{port}", password)
    finally:
        run_broker_script(KAFKA_SH, ["clean"], env, timeout=120)


@pytest.fixture
async def make_sasl_ingest(sasl_broker: SaslBroker) -> Iterator:
    """Factory: an httpx client of an in-process ingest app with these settings."""
    apps = []

    def build(settings: Settings) -> httpx.AsyncClient:
        app = create_ingest_app(settings)
        apps.append(app)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")

    yield build
    for app in apps:
        await app.state.publisher.close()


async def test_ingest_authenticated_with_scram_publishes_events_the_tools_read_back(
    sasl_broker, make_sasl_ingest, topic_prefix
):
    settings = sasl_broker.settings(topic_prefix=topic_prefix, partitions=2)
    options = kafka_client_options(settings)
    names = await create_event_topics(sasl_broker.bootstrap, topic_prefix, 2, options)
    client = make_sasl_ingest(settings)

    response = await client.post(
        "/v1/events", json=[deal_created("e1", "deal-a"), call_logged("e2", "rep-7")]
    )

    assert response.status_code == 202, response.text
    records = await read_snapshot(
        settings.bootstrap_servers,
        [names.deal_events, names.call_events],
        client_options=options,
    )
    assert [(r.topic, r.key) for r in records] == [
        (names.deal_events, b"deal-a"),
        (names.call_events, b"rep-7"),
    ]


@pytest.mark.parametrize("client", ["wrong password", "no credentials"])
async def test_a_client_without_the_right_credentials_is_refused_with_a_clear_error(
    sasl_broker, make_sasl_ingest, topic_prefix, client
):
    if client == "wrong password":
        settings = sasl_broker.settings("not-" + sasl_broker.password, topic_prefix=topic_prefix)
    else:
        settings = Settings(
            _env_file=None, kafka_bootstrap=sasl_broker.bootstrap, topic_prefix=topic_prefix
        )
    options = kafka_client_options(settings)

    with pytest.raises(
        TopicCreationFailed, match=f"could not create topics on {settings.kafka_bootstrap}"
    ):
        await ensure_topics(
            settings.bootstrap_servers, ("never",), "never-dl", 1, 1, client_options=options
        )
    with pytest.raises(KafkaToolError, match=f"Kafka at {settings.kafka_bootstrap}"):
        await partitions_of(settings.bootstrap_servers, "never", options)
    response = await make_sasl_ingest(settings).post("/v1/events", json=[deal_created("e1")])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"


def test_a_worker_and_ingest_configured_for_scram_fold_and_serve_every_golden_kpi(
    sasl_broker, topic_prefix, tmp_path
):
    stacks = StackFactory(lambda: sasl_broker.bootstrap, topic_prefix, tmp_path, sasl_broker.env)
    try:
        # The processes create their topics at start: over SASL too, or they would not be ready.
        stack = stacks.build(workers=1)
        expected = golden_expected()

        post_golden_through_api(stack.ingest.url)

        worker = stack.workers[0]
        assert (
            eventually(lambda: compare_all(worker.url, expected["kpis"], expected["as_of"])) == []
        )
    finally:
        stacks.stop_all()
