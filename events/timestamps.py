"""RFC 3339 instants, the one timestamp format of the contract (events and ``as_of``)."""

from events._fields import parse_rfc3339

__all__ = ["parse_rfc3339"]
