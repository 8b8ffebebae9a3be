"""Every Kafka client built from the settings (workers, ingest, admin calls, tools) uses the same
security: protocol, SASL mechanism and credentials, TLS context."""

from __future__ import annotations

import ssl

import pytest
from aiokafka.errors import KafkaConnectionError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

import events.kafka_admin as kafka_admin
import streams.catch_up as catch_up
import streams.tools.kafka_io as kafka_io
from events.kafka_security import kafka_client_options
from events.settings import Settings
from streams.faust_credentials import faust_broker_credentials

SASL = {"kafka_sasl_username": "alice", "kafka_sasl_password": "s3cret-pw"}


def make_settings(**fields) -> Settings:
    return Settings(_env_file=None, kafka_bootstrap="broker-1:9093", **fields)


def sasl_settings(protocol: str = "SASL_SSL", mechanism: str = "SCRAM-SHA-512") -> Settings:
    return make_settings(kafka_security_protocol=protocol, kafka_sasl_mechanism=mechanism, **SASL)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {}),
        ({"kafka_security_protocol": "SSL"}, {"security_protocol": "SSL", "ssl_context": True}),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "SCRAM-SHA-256"}
            | SASL,
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_plain_username": "alice",
                "sasl_plain_password": "s3cret-pw",
            },
        ),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512"} | SASL,
            {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_plain_username": "alice",
                "sasl_plain_password": "s3cret-pw",
                "ssl_context": True,
            },
        ),
    ],
    ids=["plaintext", "ssl", "sasl-plaintext-scram-256", "sasl-ssl-scram-512"],
)
def test_each_security_protocol_gives_its_aiokafka_options(fields, expected):
    options = kafka_client_options(make_settings(**fields))
    shown = {
        k: isinstance(v, ssl.SSLContext) if k == "ssl_context" else v for k, v in options.items()
    }
    assert shown == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"kafka_security_protocol": "SSL"},
        {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN"} | SASL,
        {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "SCRAM-SHA-256"}
        | SASL,
        {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512"} | SASL,
    ],
    ids=["ssl", "sasl-plain", "sasl-scram-256", "sasl-ssl-scram-512"],
)
def test_the_workers_faust_credentials_reach_aiokafka_as_the_tools_options(fields):
    settings = make_settings(**fields)
    via_faust = dict(credentials_to_aiokafka_auth(faust_broker_credentials(settings)))
    direct = kafka_client_options(settings)

    def comparable(options: dict) -> dict:
        return {
            key: type(value) if key == "ssl_context" else value
            for key, value in options.items()
            if value is not None
        }

    assert comparable(via_faust) == comparable(direct)


def test_a_plaintext_worker_keeps_fausts_default_credentials():
    assert faust_broker_credentials(make_settings()) is None


class RecordingClient:
    """Stands in for an aiokafka admin client or consumer: keeps its keyword arguments."""

    made: list[dict] = []

    def __init__(self, **kwargs) -> None:
        RecordingClient.made.append(kwargs)

    async def start(self) -> None:
        raise KafkaConnectionError("Unable to bootstrap from [('broker-1', 9093)]")

    async def close(self) -> None:
        pass

    async def stop(self) -> None:
        pass


@pytest.fixture
def recording_clients(monkeypatch) -> list[dict]:
    RecordingClient.made = []
    monkeypatch.setattr(kafka_io, "AIOKafkaAdminClient", RecordingClient)
    monkeypatch.setattr(kafka_io, "AIOKafkaConsumer", RecordingClient)
    monkeypatch.setattr(kafka_admin, "AIOKafkaAdminClient", RecordingClient)
    return RecordingClient.made


async def test_topic_creation_authenticates_and_names_the_refused_user_but_not_the_password(
    recording_clients,
):
    settings = sasl_settings()
    with pytest.raises(kafka_admin.TopicCreationFailed) as refused:
        await kafka_admin.ensure_topics(
            settings.bootstrap_servers,
            ("t.deals",),
            "t.dead",
            1,
            1,
            client_options=kafka_client_options(settings),
        )
    assert recording_clients[0]["sasl_plain_username"] == "alice"
    assert recording_clients[0]["security_protocol"] == "SASL_SSL"
    assert "SASL_SSL SCRAM-SHA-512 as 'alice'" in str(refused.value)
    assert "s3cret-pw" not in str(refused.value)


async def test_the_tools_clients_carry_the_security_options(recording_clients):
    options = kafka_client_options(sasl_settings("SASL_PLAINTEXT", "SCRAM-SHA-256"))
    with pytest.raises(kafka_io.KafkaToolError):
        await kafka_io.watermarks(["broker-1:9093"], "t.deals", options)
    with pytest.raises(kafka_io.KafkaToolError):
        await kafka_io.delete_before(["broker-1:9093"], "t.dead", {0: 1}, options)
    assert [made["sasl_mechanism"] for made in recording_clients] == ["SCRAM-SHA-256"] * 2
    assert {made["sasl_plain_password"] for made in recording_clients} == {"s3cret-pw"}


async def test_the_catch_up_check_measures_the_group_lag_with_the_settings_security(monkeypatch):
    seen = {}

    async def group_lag(bootstrap, group, topics, client_options=None):
        seen.update(client_options or {})
        return dict.fromkeys(topics, 0)

    monkeypatch.setattr(catch_up, "group_lag", group_lag)
    assert await catch_up.records_behind(sasl_settings("SASL_PLAINTEXT")) == 0
    assert seen["security_protocol"] == "SASL_PLAINTEXT"
    assert seen["sasl_plain_username"] == "alice"
