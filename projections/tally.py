"""Incremental KPI state: what one bucket of one (scope, id) holds, and the corrections to it.

A ``Tally`` is both a bucket's state and a correction to it: counts and sums add, and the two sets
the KPIs need distinctness for (active reps, customers) are multisets, so a retraction removes
exactly what an earlier contribution added. Amounts are integer micro-units of the reporting
currency: sums and retractions are exact and independent of arrival order.

Sums may outgrow 64 bits (19 won deals of 10^12 in one hour are 1.9e19 micro-units), which JSON
encoders for Kafka records (orjson) refuse. On the wire (``to_json``: table values, kpi-deltas) a
value outside the signed 64-bit range is therefore written as its decimal string, and read back
to the exact int; values inside it keep their plain JSON numbers, so existing records and their
bytes are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

AMOUNT_SCALE = 1_000_000
PROBABILITY_SCALE = 1_000_000
"""(v2) Probabilities are integer parts per million: amount x probability stays an integer."""
WEIGHTED_SCALE = AMOUNT_SCALE * PROBABILITY_SCALE
"""Units of a weighted amount (micro-units x parts per million)."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_WIRE_DIGITS = 80
"""Longest decimal string read back as a count: far more than any sum of accepted amounts."""

# Additive fields. Amount fields (revenue, costs) are in micro-units.
COUNT_FIELDS = (
    "opportunities",
    "deals_won",
    "deals_lost",
    "revenue",
    "calls",
    "new_customers",
    "cost_marketing",
    "cost_sales",
    "pipeline_created",
    "won_with_created",
    "won_age_us",
    "open_delta",
    "open_amount_delta",
    "open_weighted_delta",
)
"""(v2) ``pipeline_created`` (amount at creation), ``won_with_created`` and ``won_age_us`` (won
deals that have a creation, and their summed age at the win) are flows; the ``open_*`` deltas
are stock changes: a deal adds to them where it is created and takes back where it closes."""
AMOUNT_FIELDS = frozenset({"revenue", "cost_marketing", "cost_sales", "pipeline_created"})


def to_micros(amount: float | int) -> int:
    return round(amount * AMOUNT_SCALE)


class Tally:
    """Counts plus two multisets; zero entries are dropped: empty means no contribution."""

    __slots__ = ("counts", "reps", "customers")

    def __init__(
        self,
        counts: dict[str, int] | None = None,
        reps: dict[str, int] | None = None,
        customers: dict[str, int] | None = None,
    ) -> None:
        self.counts = counts if counts is not None else {}
        self.reps = reps if reps is not None else {}
        self.customers = customers if customers is not None else {}

    def count(self, name: str, delta: int) -> None:
        _bump(self.counts, name, delta)

    def rep(self, rep_id: str, delta: int) -> None:
        _bump(self.reps, rep_id, delta)

    def customer(self, customer_id: str, delta: int) -> None:
        _bump(self.customers, customer_id, delta)

    def add(self, other: Tally, sign: int = 1) -> None:
        for name, value in other.counts.items():
            _bump(self.counts, name, sign * value)
        for rep_id, value in other.reps.items():
            _bump(self.reps, rep_id, sign * value)
        for customer_id, value in other.customers.items():
            _bump(self.customers, customer_id, sign * value)

    def is_empty(self) -> bool:
        return not (self.counts or self.reps or self.customers)

    def to_json(self) -> list[dict[str, int | str]]:
        """``[counts, reps, customers]``, values beyond 64 bits as decimal strings."""
        return [wire_counts(self.counts), wire_counts(self.reps), wire_counts(self.customers)]

    @classmethod
    def from_json(cls, raw: Iterable[Mapping[str, int | str]] | None) -> Tally:
        """Reads ``[counts, reps, customers, ...]``; what follows the three (e.g. a KPI
        bucket's applied offsets) belongs to the caller. ``ValueError`` or ``TypeError`` for a
        value that is neither an int nor the decimal string of one."""
        if not raw:
            return cls()
        counts, reps, customers = list(raw)[:3]
        return cls(read_counts(counts), read_counts(reps), read_counts(customers))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Tally) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Tally(counts={self.counts}, reps={self.reps}, customers={self.customers})"


def wire_counts(values: dict[str, int]) -> dict[str, int | str]:
    """``values`` as JSON can carry them: the dict itself when every value fits 64 bits."""
    if all(INT64_MIN <= value <= INT64_MAX for value in values.values()):
        return values
    return {name: wire_int(value) for name, value in values.items()}


def wire_int(value: int) -> int | str:
    return value if INT64_MIN <= value <= INT64_MAX else str(value)


def read_counts(values: Mapping[str, int | str]) -> dict[str, int]:
    values = dict(values)
    if all(type(value) is int for value in values.values()):
        return values
    return {name: read_int(value) for name, value in values.items()}


def read_int(value: int | str) -> int:
    """The int of a wire value: a JSON integer, or the decimal string of one beyond 64 bits.

    Only ``wire_int``'s own strings are read ("1" or "+9..." are not), so a value has one wire
    form and a mistyped count is refused rather than counted."""
    if type(value) is int:
        return value
    if isinstance(value, str) and 0 < len(value) <= MAX_WIRE_DIGITS:
        digits = value[1:] if value[0] == "-" else value
        if digits.isascii() and digits.isdigit() and wire_int(int(value)) == value:
            return int(value)
    raise ValueError(f"count {value!r} is neither an integer nor the decimal string of one")


def _bump(target: dict[str, int], key: str, delta: int) -> None:
    value = target.get(key, 0) + delta
    if value:
        target[key] = value
    else:
        target.pop(key, None)


class WindowTotals:
    """The sum of a window's buckets: additive totals plus the distinct members of both sets."""

    __slots__ = ("counts", "reps", "customers", "touched")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.reps: set[str] = set()
        self.customers: set[str] = set()
        self.touched = False

    def include(self, bucket: Tally) -> None:
        if bucket.is_empty():
            return
        self.touched = True
        for name, value in bucket.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        self.reps.update(rep for rep, n in bucket.reps.items() if n > 0)
        self.customers.update(c for c, n in bucket.customers.items() if n > 0)
