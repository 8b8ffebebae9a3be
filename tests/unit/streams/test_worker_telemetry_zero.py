"""A healthy worker's operational counters read 0 for every known label, not "No data"."""

from __future__ import annotations

import pytest

from events.models import REFUSED_FIELDS
from events.settings import Settings
from events.topics import TopicNames
from streams.app import create_app
from streams.telemetry import reason_label

NAMES = TopicNames()


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("worker"))
    return create_app(settings).salespulse.registry


@pytest.mark.parametrize(
    ("topic", "event_type"),
    [(t, e) for t, types in NAMES.event_types_by_topic().items() for e in types],
)
def test_every_event_type_of_its_topic_starts_at_zero_processed(registry, topic, event_type):
    labels = {"topic": topic, "type": event_type}
    assert registry.get_sample_value("salespulse_events_processed_total", labels) == 0.0


@pytest.mark.parametrize("topic", NAMES.event_topics)
@pytest.mark.parametrize("field", [*REFUSED_FIELDS, "other"])
def test_every_field_a_dead_letter_can_name_starts_at_zero(registry, topic, field):
    labels = {"topic": topic, "reason": field}
    assert registry.get_sample_value("salespulse_dead_letters_total", labels) == 0.0


@pytest.mark.parametrize(
    "reason",
    [
        "amount: must be a number >= 0, not -5",
        "probability: must be a number between 0 and 1, not 1.5",
        "value: not valid JSON (unexpected character)",
        "key: must be 'd-1' for this deal.won event",
        "type: unknown event type 'deal.teleported'",
        "event: must be a JSON object",
        "something unforeseen",
    ],
)
def test_the_label_of_any_refusal_is_one_of_those_started_at_zero(reason):
    assert reason_label(reason) in {*REFUSED_FIELDS, "other"}
