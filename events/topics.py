"""Kafka topic names, keys and dead-letter headers (contract section 7).

Keys decide partitions, and partitions decide which worker folds what: every event of a deal must
reach the same partition, hence the deal id as key; calls are keyed by rep and costs by team.
"""

from dataclasses import dataclass

from events.models import EVENT_TYPES, CallLogged, CostIncurred, DealEvent, Event

DEAL_EVENTS = "sales.deal-events"
CALL_EVENTS = "sales.call-events"
COST_EVENTS = "sales.cost-events"
DEAD_LETTERS = "sales.dead-letters"
CRM_DELIVERIES = "sales.crm-deliveries"
"""CRM webhook deliveries as they came (``events.crm.deliveries``), keyed by vendor."""

COMPANY_KEY = "company"
"""Key of a cost without team_id: it counts at company scope only."""

DLQ_REASON = "x-salespulse-reason"
DLQ_SOURCE_TOPIC = "x-salespulse-source-topic"
DLQ_SOURCE_PARTITION = "x-salespulse-source-partition"
DLQ_SOURCE_OFFSET = "x-salespulse-source-offset"


@dataclass(frozen=True)
class TopicNames:
    """The topic names of one deployment; the prefix separates tests and tenants on a cluster."""

    prefix: str = ""

    @property
    def deal_events(self) -> str:
        return self.prefix + DEAL_EVENTS

    def event_types_by_topic(self) -> dict[str, tuple[str, ...]]:
        """The event types each event topic carries (contract section 7)."""
        deal_types = tuple(t for t in EVENT_TYPES if t.startswith("deal."))
        return {
            self.deal_events: deal_types,
            self.call_events: ("call.logged",),
            self.cost_events: ("cost.incurred",),
        }

    @property
    def call_events(self) -> str:
        return self.prefix + CALL_EVENTS

    @property
    def cost_events(self) -> str:
        return self.prefix + COST_EVENTS

    @property
    def dead_letters(self) -> str:
        return self.prefix + DEAD_LETTERS

    @property
    def crm_deliveries(self) -> str:
        return self.prefix + CRM_DELIVERIES

    @property
    def event_topics(self) -> tuple[str, str, str]:
        """The three topics that make up the event log."""
        return (self.deal_events, self.call_events, self.cost_events)

    @property
    def all(self) -> tuple[str, ...]:
        """Every topic to create or check at startup, dead letters and CRM deliveries included."""
        return (*self.event_topics, self.dead_letters, self.crm_deliveries)

    @property
    def reinjectable(self) -> tuple[str, ...]:
        """Topics a dead letter may go back to: the event log and the CRM deliveries."""
        return (*self.event_topics, self.crm_deliveries)


def crm_deliveries_beside(dead_letter_topic: str) -> str | None:
    """The CRM deliveries topic of the deployment whose dead-letter topic this is (same prefix).

    Every caller that creates a deployment's topics names its dead-letter topic, so this is
    how they all get the deliveries topic too without knowing of it.
    """
    if not dead_letter_topic.endswith(DEAD_LETTERS):
        return None
    return dead_letter_topic.removesuffix(DEAD_LETTERS) + CRM_DELIVERIES


def route(event: Event, names: TopicNames) -> tuple[str, str]:
    """(topic, key) under which `event` is published."""
    if isinstance(event, DealEvent):
        return names.deal_events, event.deal_id
    if isinstance(event, CallLogged):
        return names.call_events, event.rep_id
    if isinstance(event, CostIncurred):
        return names.cost_events, event.team_id or COMPANY_KEY
    raise TypeError(f"not a routable event: {type(event).__name__}")


def dead_letter_headers(
    reason: str, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """Kafka headers of a dead letter: why it was refused and where the original bytes came from."""
    return [
        (DLQ_REASON, reason.encode("utf-8")),
        (DLQ_SOURCE_TOPIC, topic.encode("utf-8")),
        (DLQ_SOURCE_PARTITION, str(partition).encode("ascii")),
        (DLQ_SOURCE_OFFSET, str(offset).encode("ascii")),
    ]
