"""How every salespulse Kafka client authenticates and encrypts: one mapping for aiokafka.

Ingest, the operator tools and the admin calls build aiokafka clients with
``**kafka_client_options(settings)``; the workers' Faust app gets the same settings as Faust
credentials (``streams/app.py``). PLAINTEXT (the local dev broker) yields no options at all, so
the defaults of aiokafka stay in force there.
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from events.settings import Settings


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments for ``settings``' security protocol, SASL and TLS fields."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = kafka_ssl_context(settings)
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def kafka_ssl_context(settings: Settings):
    """The TLS context of SSL and SASL_SSL: the configured CA (or the system's), client cert."""
    return create_ssl_context(
        cafile=_path(settings.kafka_ssl_cafile),
        certfile=_path(settings.kafka_ssl_certfile),
        keyfile=_path(settings.kafka_ssl_keyfile),
    )


def _path(value: Any) -> str | None:
    return None if value is None else str(value)
