"""Which peer workers a worker may call, with its read token, for /v1/kpis and /v1/keys.

Peer URLs come from the consumer group's metadata, which any client able to join the group writes.
Calling whatever URL is found there would hand the read token to that client and let it aim the
worker at any host (SSRF). A worker therefore calls only http(s) URLs whose host matches one of
``worker_peer_hosts``; any other peer is treated as unavailable, and said so once per URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from fnmatch import fnmatchcase

from yarl import URL

log = logging.getLogger(__name__)
PEER_SCHEMES = frozenset({"http", "https"})
MAX_REMEMBERED = 256
"""Refused URLs remembered (to warn once each): group members come and go, memory stays bounded."""


def peer_host(url: str) -> str | None:
    """The lower-case host of an absolute http(s) URL; None for anything else."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return None
    if parsed.scheme not in PEER_SCHEMES or not parsed.host:
        return None
    return parsed.host.lower()


class PeerHosts:
    """The allow-list of peer hosts (shell wildcards, case-insensitive)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(p.strip().lower() for p in patterns if p.strip())
        self._refused: set[str] = set()

    def allows(self, url: str) -> bool:
        """Whether ``url`` may be called; the first refusal of each URL is logged as a warning."""
        host = peer_host(url)
        if host is not None and any(_host_matches(host, p) for p in self._patterns):
            return True
        if url not in self._refused and len(self._refused) < MAX_REMEMBERED:
            self._refused.add(url)
            log.warning(
                "not contacting peer worker %r: its host is not in worker_peer_hosts; its keys "
                "count as unavailable (set SALESPULSE_WORKER_PEER_HOSTS if it is a real worker)",
                url,
            )
        return False


def _host_matches(host: str, pattern: str) -> bool:
    labels, wanted = host.split("."), pattern.split(".")
    return len(labels) == len(wanted) and all(map(fnmatchcase, labels, wanted))
