"""No delivery, however mangled, makes an adapter fail with anything but a clear refusal.

The router turns ``InvalidDelivery`` into a 4xx; any other exception would be a 500 and a vendor
retrying forever. Hypothesis mutates the vendor-shaped fixtures (replacing values at any depth
with arbitrary JSON) and checks that every outcome is either native events that the contract
accepts or an ``InvalidDelivery``.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.crm.common import InvalidDelivery
from events.crm.hubspot import hubspot_events
from events.crm.pipedrive import pipedrive_events
from events.crm.salesforce import salesforce_events
from events.crm.salesforce_soap import parse_outbound_message
from events.models import InvalidEvent, validate_event
from tests.support.crm import SALESFORCE_ORG, fixture_json, fixture_mapping, soap_notifications
from tests.support.factories import POLICY

MAPPING = fixture_mapping()
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["closedwon", "won", "lost", "open", "2026-02-14T10:00:00Z", "12.5", ""])
    | st.sampled_from([2**62, 10**20, -1, 0, 1e300, "9" * 30]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=8,
)


def mutate(value, data, depth: int = 0):
    """``value`` with some of its leaves or sub-trees replaced by arbitrary JSON."""
    if data.draw(st.integers(0, 9)) == 0 or (depth > 0 and not isinstance(value, dict | list)):
        return data.draw(JSON) if data.draw(st.booleans()) else value
    if isinstance(value, dict):
        return {key: mutate(item, data, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [mutate(item, data, depth + 1) for item in value]
    return value


def outcome_is_clean(adapt) -> None:
    try:
        events = adapt()
    except InvalidDelivery as refused:
        assert refused.reason and 400 <= refused.status < 500
        return
    for event in events:
        # InvalidEvent is refused by the router with 422 invalid_events: still a clean answer.
        with contextlib.suppress(InvalidEvent):
            validate_event(event, POLICY)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.data(), st.sampled_from(["hubspot_new_deal.json", "hubspot_generic_objects.json"]))
def test_hubspot_never_fails_uncleanly(data, fixture):
    payload = mutate(fixture_json(fixture), data)
    outcome_is_clean(lambda: hubspot_events(payload, MAPPING))


@FUZZ
@given(
    st.data(),
    st.sampled_from(
        ["pipedrive_v2_create.json", "pipedrive_v2_won.json", "pipedrive_v1_updated_lost.json"]
    ),
)
def test_pipedrive_never_fails_uncleanly(data, fixture):
    payload = mutate(fixture_json(fixture), data)
    outcome_is_clean(lambda: pipedrive_events(payload, MAPPING))


FIELD_VALUES = st.none() | st.sampled_from(
    ["true", "false", "x", "", "2026-02-14", "2026-13-40", "2026-02-14T10:00:00.000Z", "-5", "1e9"]
)
FIELD_NAMES = st.sampled_from(
    [
        "Id",
        "Amount",
        "IsWon",
        "IsClosed",
        "StageName",
        "OwnerId",
        "AccountId",
        "CloseDate",
        "CreatedDate",
        "LastModifiedDate",
        "LastStageChangeDate",
        "CurrencyIsoCode",
    ]
)


@FUZZ
@given(st.lists(st.dictionaries(FIELD_NAMES, FIELD_VALUES), min_size=1, max_size=3))
def test_salesforce_never_fails_uncleanly(notifications):
    body = soap_notifications(SALESFORCE_ORG, [(f"04l{i}", f) for i, f in enumerate(notifications)])
    now = datetime(2026, 2, 14, 16, tzinfo=UTC)

    outcome_is_clean(
        lambda: salesforce_events(parse_outbound_message(body), MAPPING, now, ZoneInfo("UTC"))
    )


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_break_the_soap_parser(body):
    outcome_is_clean(lambda: parse_outbound_message(body).notifications and [])
