"""Faust's own floor (``bench.faust_floor``): agents that take events and do nothing else."""

from bench.faust_floor import create_floor_app
from events.topics import TopicNames
from streams.faust_ext.inline_delivery import InlineDelivery


def test_the_floor_takes_each_event_topic_with_an_agent_of_its_own(tmp_path):
    app = create_floor_app("127.0.0.1:9", "floor-test-", 6099, str(tmp_path))

    taken = {agent.channel.get_topic_name() for agent in app.agents.values()}

    assert taken == set(TopicNames("floor-test-").event_topics)
    assert app.conf.id == "floor-test-floor-faust"
    assert not isinstance(app.consumer, InlineDelivery)


def test_the_floor_with_the_workers_consumer_fetches_through_the_inline_hand_over(tmp_path):
    app = create_floor_app("127.0.0.1:9", "floor-test-", 6099, str(tmp_path), "worker")

    assert isinstance(app.consumer, InlineDelivery)
    assert app.conf.id == "floor-test-floor-worker"
