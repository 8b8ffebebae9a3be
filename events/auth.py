"""Shared-secret checks of the HTTP endpoints (ingest and workers), in constant time."""

from __future__ import annotations

import hashlib
import hmac

BEARER_CHALLENGE = 'Bearer realm="salespulse"'
"""``WWW-Authenticate`` value of a 401 for a missing or wrong bearer token."""


def bearer_matches(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <token>``, compared in constant time.

    The scheme is case-insensitive (RFC 9110); the token is not.
    """
    scheme, _, given = (header or "").partition(" ")
    matches = secret_matches(given.strip(), token)
    return scheme.lower() == "bearer" and matches


def secret_matches(given: str | None, secret: str) -> bool:
    """Whether ``given`` is ``secret``, in constant time; a missing or empty value never is.

    Both sides are hashed first, so the time taken says nothing about the secret, not even its
    length.
    """
    encode = _utf8
    return bytes_match(encode(given or ""), encode(secret)) and bool(given) and bool(secret)


def bytes_match(given: bytes, secret: bytes) -> bool:
    """``given == secret`` in time independent of both, their lengths included (hashed first)."""
    return hmac.compare_digest(hashlib.sha256(given).digest(), hashlib.sha256(secret).digest())


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")
