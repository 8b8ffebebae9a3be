"""Settings group: how every process reaches Kafka (brokers, security) and lays out its topics.

Ingest, the workers and the tools all read these, so they live in the events layer; the SASL check
refuses at start a protocol whose credentials are missing rather than failing at the first
connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


class KafkaSettings(BaseModel):
    """Brokers, security protocol and credentials, topic naming and sizing."""

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        description="Kafka bootstrap servers, comma-separated host:port. Point it at an existing "
        "cluster to use that instead of the local broker.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every salespulse process (ingest, workers, tools) talks to Kafka: "
        "PLAINTEXT (the local dev broker), SSL (TLS), SASL_PLAINTEXT or SASL_SSL (authenticated; "
        "SASL_SSL for anything outside one trusted host).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512",
        description="SASL mechanism when kafka_security_protocol is SASL_*; PLAIN sends the "
        "password itself, so only over SASL_SSL.",
    )
    kafka_sasl_username: str | None = Field(
        None, description="SASL user name; required with a SASL_* security protocol."
    )
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password; required with a SASL_* security protocol. Never logged."
    )
    kafka_ssl_cafile: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the brokers' certificates (SSL, SASL_SSL). "
        "Unset: the system's default trust store.",
    )
    kafka_ssl_certfile: Path | None = Field(
        None,
        description="PEM client certificate, for brokers that require mutual TLS (with "
        "kafka_ssl_keyfile).",
    )
    kafka_ssl_keyfile: Path | None = Field(
        None, description="PEM private key of kafka_ssl_certfile."
    )
    topic_prefix: str = Field(
        "",
        description="Prefix for every topic and consumer group (tests, several tenants on one "
        "cluster), e.g. 'acme.' gives 'acme.sales.deal-events'.",
    )
    partitions: int = Field(
        8,
        ge=1,
        le=1024,
        description="Partitions of every topic created by salespulse. All topics share it, so "
        "that keys and their state stay co-partitioned; changing it later needs a rebuild.",
    )
    replication_factor: int = Field(
        1, ge=1, description="Replication factor of created topics (1 for a single dev broker)."
    )

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSettings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_username and kafka_sasl_password"
            )
        plain_text = self.kafka_security_protocol == "SASL_PLAINTEXT"
        if plain_text and self.kafka_sasl_mechanism == "PLAIN":
            raise ValueError(
                "kafka_sasl_mechanism PLAIN sends the password itself: use it only with SASL_SSL, "
                "or use SCRAM-SHA-256/512"
            )
        return self

    @property
    def bootstrap_servers(self) -> list[str]:
        """kafka_bootstrap as a list of host:port, the form aiokafka and Faust take."""
        return [server.strip() for server in self.kafka_bootstrap.split(",") if server.strip()]
