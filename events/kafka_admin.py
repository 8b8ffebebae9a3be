"""Creating the event-log topics (contract section 7), idempotently; a group's backlog.

Auto topic creation is off on our brokers: every process that needs the topics calls
``ensure_topics`` at start, and ``salespulse topics create`` does the same for operators.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from events.errors import Unavailable
from events.topics import crm_deliveries_beside

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
# The event log is the source of truth: keep it forever unless an operator decides otherwise.
EVENT_TOPIC_CONFIG = {"retention.ms": "-1", "cleanup.policy": "delete"}
# The workers' own topics (customer-wins, kpi-deltas) are kept forever too: a worker that takes
# over a partition it never held rebuilds that partition's state by reading them from their start
# (streams/state/engine.py). Snapshots of the state will let them expire (design state-engine-v2).
INTERNAL_TOPIC_CONFIG = {"retention.ms": "-1", "cleanup.policy": "delete"}
# Room for an event-topic message of the broker's maximum size plus the dead-letter headers.
DEAD_LETTER_MAX_BYTES = 4 * 1024 * 1024
DEAD_LETTER_CONFIG = {
    "retention.ms": str(90 * 24 * 3600 * 1000),
    "max.message.bytes": str(DEAD_LETTER_MAX_BYTES),
}


class TopicCreationFailed(Unavailable):
    """The brokers could not be reached, refused the credentials or a topic: named in the message.

    Exit 1 rather than the branch's 3: ``salespulse topics create`` and ``worker`` always have.
    """

    exit_code = 1


async def ensure_topics(
    bootstrap_servers: list[str],
    event_topics: tuple[str, ...],
    dead_letter_topic: str,
    partitions: int,
    replication_factor: int,
    internal_topics: tuple[str, ...] = (),
    client_options: Mapping[str, Any] | None = None,
    crm_deliveries: str | None = None,
    configured_topics: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create missing topics; return the names that were created now.

    ``internal_topics`` (the workers' own, between their agents) are kept forever, as the
    event log (``INTERNAL_TOPIC_CONFIG``). The CRM deliveries topic (``crm_deliveries``, by
    default the one beside ``dead_letter_topic``) is created like the event topics: a webhook
    delivery is acknowledged to its CRM once it is there, so it is kept like the events.
    ``client_options``: the security options of ``kafka_client_options(settings)`` (None:
    PLAINTEXT). ``configured_topics``: more topics, each with its own configuration (the
    workers' state topic). A broker that cannot be reached or refuses the credentials is a
    ``TopicCreationFailed`` naming the brokers, not a bare client error.
    """
    wanted = [
        NewTopic(name, partitions, replication_factor, topic_configs=EVENT_TOPIC_CONFIG)
        for name in event_topics
    ]
    wanted += [
        NewTopic(name, partitions, replication_factor, topic_configs=INTERNAL_TOPIC_CONFIG)
        for name in internal_topics
    ]
    wanted += [
        NewTopic(name, partitions, replication_factor, topic_configs=dict(config))
        for name, config in (configured_topics or {}).items()
    ]
    deliveries = crm_deliveries or crm_deliveries_beside(dead_letter_topic)
    if deliveries is not None and deliveries not in event_topics:
        wanted.append(
            NewTopic(deliveries, partitions, replication_factor, topic_configs=EVENT_TOPIC_CONFIG)
        )
    wanted.append(
        NewTopic(
            dead_letter_topic, partitions, replication_factor, topic_configs=DEAD_LETTER_CONFIG
        )
    )
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=15000, **(client_options or {})
    )
    try:
        await admin.start()
        response = await admin.create_topics(wanted, timeout_ms=15000)
    except KafkaError as exc:
        raise TopicCreationFailed(
            f"could not create topics on {','.join(bootstrap_servers)} "
            f"({_access(client_options)}): {exc!r}"
        ) from exc
    finally:
        await admin.close()
    created = []
    for name, code, *rest in response.topic_errors:
        if code == 0:
            created.append(name)
        elif code != TOPIC_ALREADY_EXISTS:
            message = rest[0] if rest else ""
            raise TopicCreationFailed(f"could not create topic {name}: error {code} {message}")
    if created:
        log.info("created topics %s", ", ".join(created))
    return created


def _access(client_options: Mapping[str, Any] | None) -> str:
    """How the client tried to connect, for an error message: protocol, mechanism, user."""
    options = client_options or {}
    words = [options.get("security_protocol", "PLAINTEXT")]
    if options.get("sasl_mechanism"):
        words.append(f"{options['sasl_mechanism']} as {options.get('sasl_plain_username')!r}")
    return " ".join(words)


def uncommitted_per_topic(
    partitions: Iterable[TopicPartition],
    ends: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, Any],
    firsts: Mapping[TopicPartition, int] | None = None,
) -> dict[str, int]:
    """Per topic, the records a consumer group has not committed yet: end minus committed offset.

    ``committed`` is what ``list_consumer_group_offsets`` answers; a partition the group never
    committed counts from its first offset (``firsts``, 0 when not given).
    """
    behind: dict[str, int] = {}
    for tp in partitions:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else (firsts or {}).get(tp, 0)
        behind[tp.topic] = behind.get(tp.topic, 0) + max(ends[tp] - done, 0)
    return behind
