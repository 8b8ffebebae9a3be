"""HubSpot signatures agree with HubSpot's published vectors and refuse every forgery we can make.

Vectors: HubSpot's "Validating requests" pages (v1, v2) and the test suite of HubSpot's official
Python client, ``hubspot-api-python`` tests/spec/utils/test_signature.py (v1, v2, v3).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from events.crm.common import from_epoch_ms
from events.crm.hubspot_signature import (
    SignatureRefused,
    signature_v1,
    signature_v2,
    signature_v3,
    v3_uri,
    verify,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://www.example.com/webhook_uri"
DOC_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)
CLIENT_BODY = b"{'example_field':'example_value'}"


@pytest.mark.parametrize(
    ("computed", "published"),
    [
        # HubSpot docs, v1 request with a body
        (
            lambda: signature_v1(SECRET, DOC_BODY),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de",
        ),
        # HubSpot docs, v2 GET without a body
        (
            lambda: signature_v2(SECRET, "GET", URL, b""),
            "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e",
        ),
        # HubSpot docs, v2 POST with a body
        (
            lambda: signature_v2(SECRET, "POST", URL, b'{"example_field":"example_value"}'),
            "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900",
        ),
        # HubSpot's Python client tests
        (
            lambda: signature_v1(SECRET, CLIENT_BODY),
            "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750",
        ),
        (
            lambda: signature_v2(SECRET, "POST", URL, CLIENT_BODY),
            "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383",
        ),
        (
            lambda: signature_v3(SECRET, "POST", URL, CLIENT_BODY, "15000000"),
            "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
        ),
    ],
)
def test_signatures_match_hubspots_published_vectors(computed, published):
    assert computed() == published


@pytest.mark.parametrize(
    ("uri", "decoded"),
    [
        ("https://x.io/hook", "https://x.io/hook"),
        ("https://x.io/hook?a=b%3Ac%2Fd%3Fe%40f", "https://x.io/hook?a=b:c/d?e@f"),
        ("https://x.io/h?%21%24%27%28%29%2A%2C%3B", "https://x.io/h?!$'()*,;"),
        ("https://x.io/h?q=%3a%2f", "https://x.io/h?q=:/"),
        # not in HubSpot's table: left encoded
        ("https://x.io/h?q=%20%26%3D%23", "https://x.io/h?q=%20%26%3D%23"),
    ],
)
def test_v3_decodes_exactly_the_documented_characters_of_the_uri(uri, decoded):
    assert v3_uri(uri) == decoded


def test_v3_signs_the_decoded_uri():
    encoded = "https://x.io/hook?portal=a%3Ab"
    assert signature_v3(SECRET, "POST", encoded, b"[]", "1") == signature_v3(
        SECRET, "POST", "https://x.io/hook?portal=a:b", b"[]", "1"
    )


NOW_MS = 1_771_081_200_000
NOW = from_epoch_ms(NOW_MS)
BODY = b'[{"eventId":1}]'


def v3_headers(secret=SECRET, body=BODY, uri=URL, timestamp_ms=NOW_MS, method="POST"):
    stamp = str(timestamp_ms)
    return {
        "x-hubspot-signature-v3": signature_v3(secret, method, uri, body, stamp),
        "x-hubspot-request-timestamp": stamp,
    }


def test_a_fresh_v3_signature_is_accepted():
    assert verify(v3_headers(), SECRET, {"v3"}, "POST", URL, BODY, NOW) == "v3"


def test_a_timestamp_just_under_five_minutes_old_is_accepted():
    headers = v3_headers(timestamp_ms=NOW_MS - 299_000)
    assert verify(headers, SECRET, {"v3"}, "POST", URL, BODY, NOW) == "v3"


@pytest.mark.parametrize(
    ("case", "headers", "body", "uri", "code"),
    [
        ("wrong secret", v3_headers(secret="not-the-secret"), BODY, URL, "bad_signature"),
        ("altered body", v3_headers(), BODY.replace(b"1", b"2"), URL, "bad_signature"),
        ("other URI", v3_headers(), BODY, URL + "?x=1", "bad_signature"),
        ("other method", v3_headers(method="PUT"), BODY, URL, "bad_signature"),
        (
            "stale timestamp",
            v3_headers(timestamp_ms=NOW_MS - 301_000),
            BODY,
            URL,
            "stale_timestamp",
        ),
        (
            "future timestamp",
            v3_headers(timestamp_ms=NOW_MS + 301_000),
            BODY,
            URL,
            "stale_timestamp",
        ),
        (
            "timestamp altered after signing",
            {**v3_headers(), "x-hubspot-request-timestamp": str(NOW_MS + 1)},
            BODY,
            URL,
            "bad_signature",
        ),
        ("no signature", {}, BODY, URL, "bad_signature"),
        (
            "no timestamp",
            {"x-hubspot-signature-v3": v3_headers()["x-hubspot-signature-v3"]},
            BODY,
            URL,
            "bad_signature",
        ),
        (
            "huge timestamp",
            {**v3_headers(), "x-hubspot-request-timestamp": "9" * 30},
            BODY,
            URL,
            "bad_signature",
        ),
        (
            "garbage timestamp",
            {**v3_headers(), "x-hubspot-request-timestamp": "soon"},
            BODY,
            URL,
            "bad_signature",
        ),
    ],
)
def test_forged_or_stale_v3_requests_are_refused(case, headers, body, uri, code):
    with pytest.raises(SignatureRefused) as refused:
        verify(headers, SECRET, {"v3"}, "POST", uri, body, NOW)
    assert refused.value.code == code, case


def legacy_headers(version: str, signature: str) -> dict[str, str]:
    return {"x-hubspot-signature-version": version, "x-hubspot-signature": signature}


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_legacy_versions_are_accepted_only_when_configured(version):
    signature = (
        signature_v1(SECRET, BODY) if version == "v1" else signature_v2(SECRET, "POST", URL, BODY)
    )
    headers = legacy_headers(version, signature)

    assert verify(headers, SECRET, {"v3", version}, "POST", URL, BODY, NOW) == version
    with pytest.raises(SignatureRefused):
        verify(headers, SECRET, {"v3"}, "POST", URL, BODY, NOW)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_legacy_signatures_with_a_wrong_secret_or_body_are_refused(version):
    def sign(secret, body):
        if version == "v1":
            return signature_v1(secret, body)
        return signature_v2(secret, "POST", URL, body)

    for headers, body in [
        (legacy_headers(version, sign("wrong", BODY)), BODY),
        (legacy_headers(version, sign(SECRET, BODY)), BODY + b" "),
    ]:
        with pytest.raises(SignatureRefused):
            verify(headers, SECRET, {"v1", "v2"}, "POST", URL, body, NOW)


def test_a_present_v3_signature_must_be_valid_even_if_a_legacy_one_is():
    headers = {**v3_headers(secret="wrong"), **legacy_headers("v1", signature_v1(SECRET, BODY))}

    with pytest.raises(SignatureRefused):
        verify(headers, SECRET, {"v1", "v3"}, "POST", URL, BODY, NOW)


def test_the_age_limit_is_hubspots_five_minutes():
    from events.crm.hubspot_signature import MAX_AGE

    assert timedelta(minutes=5) == MAX_AGE
