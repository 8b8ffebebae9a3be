"""Every error salespulse raises on purpose sits on one tree (``events.errors``).

Its branch decides what the ingest edge, the workers' API and the tools answer: one table here
holds each error with the branch, HTTP status and exit code it must have, and a walk over every
module of events, streams and projections fails on an exception class left off the tree.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache

import pytest

import events.errors
from events.crm.common import InvalidDelivery
from events.crm.deal_source import VendorError, VendorRefused, VendorUnavailable
from events.crm.deliveries import UnreadableDelivery
from events.crm.hubspot_signature import SignatureRefused
from events.crm.mapping import MappingError
from events.crm.salesforce_api import UnsafeSoql
from events.crm.sources import SourceNotConfigured
from events.crm.vendor_http import VendorBadRequest
from events.currency import RatesError
from events.errors import (
    Conflict,
    CorruptRecord,
    InvalidInput,
    Misconfigured,
    NotFound,
    SalespulseError,
    Unauthenticated,
    Unavailable,
    exit_code,
    http_status,
)
from events.http_edge import Refusal
from events.kafka_admin import TopicCreationFailed
from events.models import InvalidEvent
from events.publisher import BrokerUnavailable, RecordTooLarge
from projections.query import QueryError
from projections.state_keys import StateKeyError
from projections.state_legacy import LegacyShapeError
from projections.state_types import StateFormatError
from projections.windows import UnknownWindow
from streams.customer_wins import MalformedCustomerWins
from streams.kpi_deltas import MalformedKpiDeltas
from streams.state.snapshot import StaleGeneration
from streams.tools.backfill_mapping import ExportMappingError
from streams.tools.backfill_rows import ExportUnreadable, RowRefused, RowSkipped
from streams.tools.kafka_io import KafkaToolError
from streams.tools.kpi_report import ReportError
from streams.tools.output import Exit
from streams.tools.worker_api import BadRequest, UnknownKey, WorkerUnavailable

PACKAGES = ("events", "streams", "projections")
BRANCHES = (
    InvalidInput,
    CorruptRecord,
    Misconfigured,
    Unauthenticated,
    NotFound,
    Conflict,
    Unavailable,
    Refusal,
)
OFF_THE_TREE = {
    "events.crm.hubspot_items._Skip": "private control flow: an item the product does not use, "
    "caught in the function that raises it",
}
FAMILIES = {
    VendorError: "one vendor API's errors, across Unavailable and Misconfigured; never raised",
}


def case(error: BaseException, branch: type, status: int, code: Exit):
    return pytest.param(error, branch, status, code, id=type(error).__name__)


TREE = [
    case(InvalidEvent(["amount: must be a number"]), InvalidInput, 422, Exit.USAGE),
    case(InvalidDelivery("[0]: must be a JSON object"), InvalidInput, 422, Exit.USAGE),
    case(QueryError("window: must be one of 1h, 24h"), InvalidInput, 400, Exit.USAGE),
    case(UnknownWindow("window: must be one of 1h, 24h"), InvalidInput, 400, Exit.USAGE),
    case(UnsafeSoql("'a b' is not a Salesforce record id"), InvalidInput, 400, Exit.USAGE),
    case(BadRequest("as_of: must be an RFC 3339 timestamp"), InvalidInput, 400, Exit.USAGE),
    case(ReportError("--sort: 'x' is not a KPI"), InvalidInput, 400, Exit.USAGE),
    case(ExportMappingError("backfill mapping: unknown key"), InvalidInput, 400, Exit.USAGE),
    case(ExportUnreadable("line 3: field larger than field limit"), InvalidInput, 400, Exit.USAGE),
    case(RowRefused("Close Date: missing"), InvalidInput, 400, Exit.USAGE),
    case(RowSkipped("Type: 'meeting' is neither a deal nor a call"), InvalidInput, 400, Exit.USAGE),
    case(UnreadableDelivery("not a delivery"), CorruptRecord, 500, Exit.FINDINGS),
    case(MalformedKpiDeltas("not a list"), CorruptRecord, 500, Exit.FINDINGS),
    case(MalformedCustomerWins("not a change"), CorruptRecord, 500, Exit.FINDINGS),
    case(StateFormatError("unknown format byte"), CorruptRecord, 500, Exit.FINDINGS),
    case(StateKeyError("a day is 4 bytes"), CorruptRecord, 500, Exit.FINDINGS),
    case(LegacyShapeError("unknown deal event kind"), CorruptRecord, 500, Exit.FINDINGS),
    case(MappingError("CRM mapping file is invalid"), Misconfigured, 500, Exit.USAGE),
    case(RatesError("line 2: expected 3 fields"), Misconfigured, 500, Exit.USAGE),
    case(SourceNotConfigured("the hubspot API is not configured"), Misconfigured, 500, Exit.USAGE),
    case(VendorRefused("hubspot API: HTTP 401"), Misconfigured, 500, Exit.USAGE),
    case(VendorBadRequest("salesforce", 400, "INVALID_FIELD"), Misconfigured, 500, Exit.USAGE),
    case(SignatureRefused("bad_signature", "no match"), Unauthenticated, 401, Exit.USAGE),
    case(UnknownKey("no KPIs for scope=rep id='r-1'"), NotFound, 404, Exit.FINDINGS),
    case(StaleGeneration("generation 3 below the chain's 4"), Conflict, 409, Exit.FINDINGS),
    case(BrokerUnavailable("no ack"), Unavailable, 503, Exit.UNAVAILABLE),
    case(RecordTooLarge(2, "1.2 MiB over the limit"), Unavailable, 422, Exit.FINDINGS),
    case(TopicCreationFailed("could not create topics"), Unavailable, 503, Exit.FINDINGS),
    case(VendorUnavailable("hubspot API: HTTP 503"), Unavailable, 503, Exit.UNAVAILABLE),
    case(WorkerUnavailable("http://w:6066/v1/keys: timed out"), Unavailable, 503, Exit.UNAVAILABLE),
    case(KafkaToolError("topic t.deals does not exist"), Unavailable, 503, Exit.UNAVAILABLE),
    case(Refusal(413, "too_large", "request body exceeds 10 bytes"), Refusal, 413, Exit.USAGE),
]


@pytest.mark.parametrize(("error", "branch", "status", "code"), TREE)
def test_each_error_sits_on_its_branch_alone(error, branch, status, code):
    assert isinstance(error, SalespulseError)
    assert [b.__name__ for b in BRANCHES if isinstance(error, b)] == [branch.__name__]


@pytest.mark.parametrize(("error", "branch", "status", "code"), TREE)
def test_each_error_maps_to_its_http_status_and_exit_code(error, branch, status, code):
    assert (http_status(error), exit_code(error)) == (status, code)


@pytest.mark.parametrize(
    ("branch", "builtin"),
    [
        (InvalidInput, ValueError),
        (CorruptRecord, ValueError),
        (Misconfigured, ValueError),
        (NotFound, LookupError),
    ],
)
def test_branches_keep_the_builtin_base_that_existing_handlers_catch(branch, builtin):
    assert issubclass(branch, builtin)


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, Exit.USAGE), (422, Exit.USAGE), (500, Exit.UNAVAILABLE), (503, Exit.UNAVAILABLE)],
)
def test_a_refusal_answers_its_own_status_and_a_tool_meeting_one_retries_only_a_5xx(status, code):
    refusal = Refusal(status, "some_code", "a sentence")

    assert (http_status(refusal), exit_code(refusal), refusal.status) == (status, code, status)


@pytest.mark.parametrize("status", [400, 413, 422])
def test_an_invalid_delivery_answers_the_status_it_was_raised_with(status):
    refused = InvalidDelivery("body: 101 items, at most 100", "too_many_events", status)

    assert (http_status(refused), refused.status) == (status, status)
    assert exit_code(refused) == Exit.USAGE


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyError("k"), TimeoutError()])
def test_an_exception_off_the_tree_is_a_server_error_and_exit_1(error):
    assert (http_status(error), exit_code(error)) == (500, 1)


def test_the_exit_codes_of_the_tree_are_the_tools_shared_ones():
    classes = (SalespulseError, *BRANCHES, RecordTooLarge, TopicCreationFailed)
    codes = {cls.exit_code for cls in classes if isinstance(cls.exit_code, int)}

    assert codes == {Exit.FINDINGS, Exit.USAGE, Exit.UNAVAILABLE}


def test_a_vendor_error_keeps_its_family_across_branches():
    assert issubclass(VendorUnavailable, VendorError) and issubclass(VendorRefused, VendorError)
    assert issubclass(VendorUnavailable, Unavailable) and issubclass(VendorRefused, Misconfigured)


@cache
def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined at the top of a module of ``PACKAGES``, by dotted name."""
    found = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        for module_info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(module_info.name)
            for name, value in vars(module).items():
                if _defined_exception(value, module.__name__):
                    found[f"{module.__name__}.{name}"] = value
    return found


def _defined_exception(value: object, module: str) -> bool:
    return (
        inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module
    )


def test_every_exception_class_of_the_packages_is_on_the_tree():
    off_the_tree = [
        name
        for name, error in defined_exceptions().items()
        if not issubclass(error, SalespulseError) and name not in OFF_THE_TREE
    ]

    assert off_the_tree == [], "derive them from a branch of events.errors"


def test_the_errors_left_off_the_tree_still_exist_and_stay_off_it():
    found = defined_exceptions()

    assert [name for name in OFF_THE_TREE if name not in found] == []
    assert [name for name in OFF_THE_TREE if issubclass(found[name], SalespulseError)] == []


def test_every_error_on_the_tree_has_its_row_in_the_table():
    tabled = {type(param.values[0]) for param in TREE} | set(FAMILIES) | set(BRANCHES)
    on_the_tree = {
        name
        for name, error in defined_exceptions().items()
        if issubclass(error, SalespulseError) and error is not SalespulseError
    }

    assert sorted(on_the_tree - {f"{e.__module__}.{e.__name__}" for e in tabled}) == []


def test_the_module_opens_with_every_error_of_the_tree():
    names = {type(param.values[0]).__name__ for param in TREE} | {e.__name__ for e in FAMILIES}
    tree = events.errors.__doc__

    assert sorted(name for name in names | {e.__name__ for e in BRANCHES} if name not in tree) == []
