"""The demo company (``salespulse demo``, ``make run``): valid events that tell a v2 story."""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import mean

import orjson
import pytest

from events.codec import decode_event
from events.demo import SEGMENTS, DemoCompany, segment_of
from tests.support.factories import POLICY

NOW = datetime(2026, 3, 31, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo_events() -> list[dict]:
    company = DemoCompany(now=NOW, seed=7)
    return company.backfill(30) + company.live(NOW, 40)


def test_every_demo_event_is_valid_at_the_edge(demo_events):
    for event in demo_events:
        decode_event(orjson.dumps(event), POLICY)


def test_every_new_deal_has_a_customer_type_and_a_probability_of_closing(demo_events):
    created = [e for e in demo_events if e["type"] == "deal.created"]
    assert created
    assert all(e["segment"] in SEGMENTS and 0 < e["probability"] < 1 for e in created)


def test_enterprise_deals_are_fewer_and_larger_than_smb_ones(demo_events):
    created = [e for e in demo_events if e["type"] == "deal.created"]
    by_segment = {s: [e["amount"] for e in created if e["segment"] == s] for s in SEGMENTS}
    assert len(by_segment["enterprise"]) < len(by_segment["smb"])
    assert mean(by_segment["enterprise"]) > 2 * mean(by_segment["smb"])


def test_marketing_costs_name_the_customer_type_they_target(demo_events):
    marketing = [e for e in demo_events if e.get("category") == "marketing"]
    assert marketing and {e["segment"] for e in marketing} == set(SEGMENTS)


@pytest.mark.parametrize(
    ("customer", "segment"),
    [(0, "smb"), (59, "smb"), (60, "mid-market"), (88, "enterprise"), (199, "enterprise")],
)
def test_a_customer_keeps_one_type(customer, segment):
    assert segment_of(customer) == segment
