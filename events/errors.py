"""Every error salespulse raises on purpose, on one tree, and what each branch tells a caller.

::

                                     HTTP exit
    SalespulseError                   500   1   nothing more precise is known
     ├── InvalidInput (ValueError)    400   2   the data of a client, a file or an option is wrong
     │    ├── InvalidEvent            422       the event contract refuses an event
     │    ├── InvalidDelivery         own       a CRM delivery (422; 400 unreadable, 413 too many)
     │    ├── QueryError, UnknownWindow         parameters of /v1/kpis
     │    ├── UnsafeSoql                        a name or id that cannot go into a query as it is
     │    ├── BadRequest, ReportError           what a tool asked of the workers or its report
     │    └── ExportMappingError, ExportUnreadable, RowRefused, RowSkipped: a backfill's export
     ├── CorruptRecord (ValueError)   500   1   bytes salespulse wrote that do not decode
     │    ├── UnreadableDelivery, MalformedKpiDeltas, MalformedCustomerWins: topic records
     │    └── StateFormatError, StateKeyError, LegacyShapeError: table values and keys
     ├── Misconfigured (ValueError)   500   2   settings, a mapping or rates file, credentials
     │    ├── MappingError, RatesError, SourceNotConfigured
     │    └── VendorRefused                     a vendor refuses our credentials or request
     │         └── VendorBadRequest
     ├── Unauthenticated              401   2   a request that is not from whom it claims
     │    └── SignatureRefused
     ├── NotFound (LookupError)       404   1   nothing is known under that name: a finding
     │    └── UnknownKey
     ├── Conflict                     409   1   valid, but the state has moved on without it
     │    └── StaleGeneration
     ├── Unavailable                  503   3   a dependency is down or slow: retry later
     │    ├── BrokerUnavailable
     │    │    └── RecordTooLarge     422   1   the broker will never store it: no retry helps
     │    ├── TopicCreationFailed           1   as ``salespulse topics create`` always exited
     │    └── VendorUnavailable, WorkerUnavailable, KafkaToolError
     └── Refusal                      own  2|3  an answer already chosen for HTTP (3 for a 5xx)

``VendorError`` groups one vendor API's errors across two branches (VendorUnavailable,
VendorRefused). A blank column inherits the branch's value.

A branch says whose fault an error is and whether retrying helps, so that the ingest edge, the
workers' API and the tools answer alike: ``http_status(exc)`` and ``exit_code(exc)`` read the
class, or the instance for the two that carry their own status. Exit codes are the tools' shared
ones (``streams.tools.output.Exit``): 1 findings, 2 usage or configuration, 3 unavailable. A site
that answers a group of errors as one branch names the branch: ``Unavailable.http_status``.

Private control flow (``events.crm.hubspot_items._Skip``) stays off the tree: it never leaves
its module.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "CorruptRecord",
    "InvalidInput",
    "Misconfigured",
    "NotFound",
    "SalespulseError",
    "Unauthenticated",
    "Unavailable",
    "exit_code",
    "http_status",
]

UNKNOWN_HTTP_STATUS = 500
UNKNOWN_EXIT_CODE = 1
"""For an exception off the tree: what an unhandled one would have given (a 500, exit 1)."""


class SalespulseError(Exception):
    """The root: ``except SalespulseError`` catches every error raised on purpose, nothing else."""

    http_status: int = UNKNOWN_HTTP_STATUS
    exit_code: int = UNKNOWN_EXIT_CODE


class InvalidInput(SalespulseError, ValueError):
    """Data from outside breaks a documented rule; the caller must fix it, a retry will not."""

    http_status = 400
    exit_code = 2


class CorruptRecord(SalespulseError, ValueError):
    """Bytes a salespulse process wrote (a record, a table value or key) that do not decode.

    Never the fault of whoever asked: the record is dead-lettered or skipped, and a request that
    meets one is a server error.
    """

    http_status = 500
    exit_code = 1


class Misconfigured(SalespulseError, ValueError):
    """A setting, a mapping or rates file, or credentials are wrong: fix them and restart."""

    http_status = 500
    exit_code = 2


class Unauthenticated(SalespulseError):
    """A request that cannot prove it comes from whom it claims (signature, token)."""

    http_status = 401
    exit_code = 2


class NotFound(SalespulseError, LookupError):
    """Nothing is known under that name: for a tool a finding, not a failure."""

    http_status = 404
    exit_code = 1


class Conflict(SalespulseError):
    """Valid on its own, but the state has moved on without it (a writer of an older generation)."""

    http_status = 409
    exit_code = 1


class Unavailable(SalespulseError):
    """A dependency (broker, vendor API, worker) is down, slow or answers nonsense: retry later."""

    http_status = 503
    exit_code = 3


def http_status(exc: BaseException) -> int:
    """The HTTP status ``exc`` is answered with (500 for an exception off the tree)."""
    return exc.http_status if isinstance(exc, SalespulseError) else UNKNOWN_HTTP_STATUS


def exit_code(exc: BaseException) -> int:
    """The exit code a tool ends with because of ``exc`` (1 for an exception off the tree)."""
    return exc.exit_code if isinstance(exc, SalespulseError) else UNKNOWN_EXIT_CODE
