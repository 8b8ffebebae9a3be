"""The workers' Kafka security: settings as Faust ``broker_credentials``.

Faust builds its consumers, producers and topic-creating client from ``broker_credentials``
(``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth``), not from aiokafka keyword
arguments. Deriving the credentials from ``kafka_client_options`` keeps one mapping of the
settings: a worker connects exactly as ingest and the tools do.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types.auth import CredentialsT

from events.kafka_security import kafka_client_options


def faust_broker_credentials(settings: Any) -> CredentialsT | None:
    """None for PLAINTEXT (Faust's default), else the SSL or SASL credentials of ``settings``."""
    options = kafka_client_options(settings)
    protocol = options.get("security_protocol", "PLAINTEXT")
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(options["ssl_context"])
    # SASLCredentials turns into SASL_SSL exactly when it is given a TLS context.
    return faust.SASLCredentials(
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        mechanism=options["sasl_mechanism"],
        ssl_context=options.get("ssl_context"),
    )
