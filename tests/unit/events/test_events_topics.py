"""Topic names, routing keys and dead-letter headers (contract section 7)."""

from datetime import UTC, datetime

import pytest

from events import topics
from events.models import EventPolicy, validate_event
from events.topics import TopicNames, dead_letter_headers, route

POLICY = EventPolicy(clock=lambda: datetime(2026, 2, 14, 15, 20, tzinfo=UTC))


def event(event_type: str, **fields: object):
    return validate_event(
        {"event_id": "ev-1", "type": event_type, "occurred_at": "2026-02-14T15:00:00Z", **fields},
        POLICY,
    )


DEAL = {"deal_id": "d-7", "rep_id": "r-1", "team_id": "t-1", "customer_id": "c-1", "amount": 1}


@pytest.mark.parametrize(
    ("constant", "name"),
    [
        ("DEAL_EVENTS", "sales.deal-events"),
        ("CALL_EVENTS", "sales.call-events"),
        ("COST_EVENTS", "sales.cost-events"),
        ("DEAD_LETTERS", "sales.dead-letters"),
        ("CRM_DELIVERIES", "sales.crm-deliveries"),
        ("DLQ_REASON", "x-salespulse-reason"),
        ("DLQ_SOURCE_TOPIC", "x-salespulse-source-topic"),
        ("DLQ_SOURCE_PARTITION", "x-salespulse-source-partition"),
        ("DLQ_SOURCE_OFFSET", "x-salespulse-source-offset"),
    ],
)
def test_the_contract_names_are_the_published_constants(constant, name):
    assert getattr(topics, constant) == name


@pytest.mark.parametrize("prefix", ["", "acme.", "test-3f2a-"])
def test_every_topic_name_is_the_prefix_plus_the_base_name(prefix):
    names = TopicNames(prefix)
    assert names.deal_events == prefix + "sales.deal-events"
    assert names.call_events == prefix + "sales.call-events"
    assert names.cost_events == prefix + "sales.cost-events"
    assert names.dead_letters == prefix + "sales.dead-letters"
    assert names.crm_deliveries == prefix + "sales.crm-deliveries"
    assert names.event_topics == (names.deal_events, names.call_events, names.cost_events)
    assert names.all == (*names.event_topics, names.dead_letters, names.crm_deliveries)


def test_topic_names_default_to_no_prefix_and_are_immutable_values():
    assert TopicNames() == TopicNames("")
    assert hash(TopicNames("a.")) == hash(TopicNames("a."))
    with pytest.raises(AttributeError):
        TopicNames().prefix = "x."


@pytest.mark.parametrize(
    ("event_type", "fields", "topic", "key"),
    [
        ("deal.created", DEAL, "sales.deal-events", "d-7"),
        ("deal.updated", {"deal_id": "d-7", "rep_id": "r-2"}, "sales.deal-events", "d-7"),
        ("deal.won", {"deal_id": "d-7"}, "sales.deal-events", "d-7"),
        ("deal.lost", {"deal_id": "d-7", "reason": "price"}, "sales.deal-events", "d-7"),
        ("deal.reopened", {"deal_id": "d-7"}, "sales.deal-events", "d-7"),
        (
            "call.logged",
            {"rep_id": "r-1", "team_id": "t-1", "deal_id": "d-7"},
            "sales.call-events",
            "r-1",
        ),
        (
            "cost.incurred",
            {"amount": 3, "category": "sales", "team_id": "t-2"},
            "sales.cost-events",
            "t-2",
        ),
        (
            "cost.incurred",
            {"amount": 3, "category": "marketing", "channel": "email"},
            "sales.cost-events",
            "company",
        ),
    ],
)
@pytest.mark.parametrize("prefix", ["", "acme."])
def test_each_event_is_routed_to_its_topic_under_its_key(event_type, fields, topic, key, prefix):
    assert route(event(event_type, **fields), TopicNames(prefix)) == (prefix + topic, key)


def test_routing_something_that_is_not_an_event_is_a_programming_error():
    with pytest.raises(TypeError):
        route({"type": "deal.won", "deal_id": "d-7"}, TopicNames())


@pytest.mark.parametrize(
    ("reason", "topic", "partition", "offset", "encoded_reason"),
    [
        ("value: not valid UTF-8", "sales.deal-events", 0, 0, b"value: not valid UTF-8"),
        (
            "category: must be 'marketing' or 'sales', not 'fête'",
            "acme.sales.cost-events",
            11,
            9_000_000_000,
            "category: must be 'marketing' or 'sales', not 'fête'".encode(),
        ),
    ],
)
def test_dead_letter_headers_name_the_reason_and_the_source_record(
    reason, topic, partition, offset, encoded_reason
):
    assert dead_letter_headers(reason, topic, partition, offset) == [
        ("x-salespulse-reason", encoded_reason),
        ("x-salespulse-source-topic", topic.encode()),
        ("x-salespulse-source-partition", str(partition).encode()),
        ("x-salespulse-source-offset", str(offset).encode()),
    ]
