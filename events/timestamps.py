"""RFC 3339 instants, the one timestamp format of the contract (events and ``as_of``)."""

from events._fields import EARLIEST_INSTANT, LATEST_INSTANT, parse_rfc3339

__all__ = ["EARLIEST_INSTANT", "LATEST_INSTANT", "parse_rfc3339"]
