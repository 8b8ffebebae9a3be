"""Shared-secret checks of the HTTP endpoints (ingest and workers), in constant time."""

from __future__ import annotations

import hashlib
import hmac

BEARER_CHALLENGE = 'Bearer realm="salespulse"'
"""``WWW-Authenticate`` value of a 401 for a missing or wrong bearer token."""


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>``, compared in constant time.

    Both sides are hashed first, so the time taken says nothing about the token, not even its
    length. The scheme is case-insensitive (RFC 9110); the token is not.
    """
    scheme, _, given = (header or "").partition(" ")
    given_digest = hashlib.sha256(given.strip().encode("utf-8", "surrogatepass")).digest()
    token_digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    matches = hmac.compare_digest(given_digest, token_digest)
    return scheme.lower() == "bearer" and matches
