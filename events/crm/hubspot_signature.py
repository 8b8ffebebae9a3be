"""HubSpot request signatures v1, v2 and v3, exactly as HubSpot documents and implements them.

Sources: HubSpot's "Validating requests" developer page and its official Python client
(``hubspot.utils.signature.Signature``), whose published test vectors are in our unit tests.

- v3 (``X-HubSpot-Signature-v3``): base64(HMAC-SHA256(client secret, UTF-8 of method + URI +
  body + ``X-HubSpot-Request-Timestamp``)), where URI is the full URI HubSpot called with the
  documented percent-encodings decoded; refused when the timestamp is more than 5 minutes old.
- v2 (``X-HubSpot-Signature`` with ``X-HubSpot-Signature-Version: v2``): hex SHA-256 of secret +
  method + URI + body, URI exactly as called.
- v1 (same header, version v1): hex SHA-256 of secret + body.

v1 and v2 carry no timestamp, so a captured request can be replayed forever: they are accepted
only when configured (``SALESPULSE_HUBSPOT_SIGNATURE_VERSIONS``). Comparisons use
``hmac.compare_digest`` so that timing reveals nothing about the expected value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from events.crm.common import epoch_ms_time, is_decimal_digits
from events.errors import Unauthenticated

MAX_AGE = timedelta(minutes=5)
V3_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
LEGACY_HEADER = "x-hubspot-signature"
VERSION_HEADER = "x-hubspot-signature-version"

# HubSpot: "decode any URL-encoded characters listed in the following table" (v3 only).
_V3_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_V3_ENCODED = re.compile("|".join(_V3_DECODED), re.IGNORECASE)


class SignatureRefused(Unauthenticated):
    """Why a request is not HubSpot's: ``code`` is ``bad_signature`` or ``stale_timestamp``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def v3_uri(uri: str) -> str:
    """The URI as HubSpot's v3 source string has it: the documented characters decoded."""
    return _V3_ENCODED.sub(lambda match: _V3_DECODED[match.group(0).upper()], uri)


def signature_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.encode() + v3_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + method.encode() + uri.encode() + body).hexdigest()


def signature_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def verify(
    headers: Mapping[str, str],
    secret: str,
    versions: Collection[str],
    method: str,
    uri: str,
    body: bytes,
    now: datetime,
) -> str:
    """The version that authenticated the request, or SignatureRefused.

    v3 is checked whenever it is allowed and its header is present; otherwise an allowed legacy
    version named by ``X-HubSpot-Signature-Version``. ``headers`` keys must be lower case (or
    the mapping case-insensitive, as Starlette's is).
    """
    if "v3" in versions and headers.get(V3_HEADER):
        _verify_v3(headers, secret, method, uri, body, now)
        return "v3"
    legacy = (headers.get(VERSION_HEADER) or "").strip().lower()
    if legacy in ("v1", "v2") and legacy in versions and headers.get(LEGACY_HEADER):
        expected = (
            signature_v1(secret, body)
            if legacy == "v1"
            else signature_v2(secret, method, uri, body)
        )
        _compare(headers[LEGACY_HEADER].strip().lower(), expected)
        return legacy
    accepted = ", ".join(sorted(versions))
    raise SignatureRefused(
        "bad_signature", f"no HubSpot signature of an accepted version ({accepted})"
    )


def _verify_v3(
    headers: Mapping[str, str], secret: str, method: str, uri: str, body: bytes, now: datetime
) -> None:
    timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    sent = epoch_ms_time(int(timestamp)) if is_decimal_digits(timestamp) else None
    if sent is None:
        raise SignatureRefused("bad_signature", f"missing or invalid {TIMESTAMP_HEADER}")
    # HubSpot refuses only old timestamps; a far-future one would stretch the replay window.
    if now - sent > MAX_AGE or sent - now > MAX_AGE:
        raise SignatureRefused(
            "stale_timestamp", f"{TIMESTAMP_HEADER} is more than 5 minutes from now"
        )
    _compare(headers[V3_HEADER].strip(), signature_v3(secret, method, uri, body, timestamp))


def _compare(given: str, expected: str) -> None:
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureRefused("bad_signature", "the HubSpot signature does not match")
