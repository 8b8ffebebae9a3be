"""The settings class refuses combinations that would break a worker at start or at run time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from events.settings import Settings


def make_settings(**fields) -> Settings:
    return Settings(_env_file=None, **fields)


def test_the_defaults_give_a_short_failover_and_bounded_broker_requests():
    settings = make_settings()
    assert settings.worker_session_timeout_s == 10.0
    assert settings.worker_request_timeout_s >= settings.worker_session_timeout_s
    assert settings.worker_heartbeat_interval_s * 3 <= settings.worker_session_timeout_s


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"worker_session_timeout_s": 40, "worker_request_timeout_s": 30},
            "worker_request_timeout_s must be at least worker_session_timeout_s",
        ),
        (
            {"worker_session_timeout_s": 6, "worker_heartbeat_interval_s": 3},
            "at most a third of worker_session_timeout_s",
        ),
        ({"worker_session_timeout_s": 5}, "greater than or equal to 6"),
        ({"time_zone": "Mars/Olympus"}, "unknown IANA time zone"),
        ({"hubspot_signature_versions": "v4"}, "expected a comma-separated list"),
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "alice"},
            "needs kafka_sasl_username and kafka_sasl_password",
        ),
        ({"kafka_security_protocol": "SASL_PLAIN"}, "kafka_security_protocol"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
        (
            {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_mechanism": "PLAIN",
                "kafka_sasl_username": "alice",
                "kafka_sasl_password": "secret",
            },
            "PLAIN sends the password itself",
        ),
        (
            {"salesforce_organization_id": "00D000000000001AAA"},
            "needs salesforce_token",
        ),
    ],
)
def test_inconsistent_settings_are_refused_with_the_reason(fields, message):
    with pytest.raises(ValidationError, match=message):
        make_settings(**fields)


def test_an_empty_token_means_no_authentication():
    assert make_settings(ingest_token="  ", worker_read_token="").ingest_token is None


def test_the_app_passes_group_timeouts_and_producer_batching_to_faust(tmp_path):
    from streams.app import create_app

    app = create_app(
        make_settings(
            worker_session_timeout_s=8,
            worker_heartbeat_interval_s=2,
            worker_request_timeout_s=20,
            worker_metadata_max_age_s=7.5,
            data_dir=tmp_path,
        )
    )
    assert app.conf.broker_session_timeout == 8
    assert app.conf.broker_heartbeat_interval == 2
    assert app.conf.broker_request_timeout == 20
    assert app.conf.consumer_metadata_max_age_ms == 7500
    assert app.conf.producer_linger == 0.01
    assert app.conf.producer_max_batch_size == 1024 * 1024


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_the_app_authenticates_its_kafka_clients_as_configured(tmp_path, protocol):
    from streams.app import create_app

    app = create_app(
        make_settings(
            kafka_security_protocol=protocol,
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="worker",
            kafka_sasl_password="pw",
            data_dir=tmp_path,
        )
    )
    credentials = app.conf.broker_credentials
    assert credentials.protocol.value == protocol
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("worker", "pw")


def test_a_plaintext_app_sends_no_credentials(tmp_path):
    from streams.app import create_app

    assert create_app(make_settings(data_dir=tmp_path)).conf.broker_credentials is None


def test_internal_topics_sit_under_the_app_id_of_their_generation():
    settings = make_settings(topic_prefix="acme.", table_generation="g2")
    assert settings.internal_topics == (
        "acme.salespulse.g2.customer-wins",
        "acme.salespulse.g2.kpi-deltas",
    )
