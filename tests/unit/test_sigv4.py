"""SigV4 verification against requests signed by botocore itself (the client most users run)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from idpool.auth import sigv4
from idpool.auth.principals import Principal, PrincipalDirectory, PrincipalEntry
from idpool.auth.sigv4 import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    SIGNATURE_MISMATCH,
    SigV4Verifier,
)
from idpool.auth.sigv4_request import canonical_query_string, canonical_request, parse_query
from idpool.domain.errors import (
    ExpiredTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
    UnrecognizedClientException,
)

AK = "AKIAIDPOOLTEST000001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ACCOUNT = "123456789012"
TEMP_AK = "ASIAIDPOOLTEMP000001"
TEMP_SECRET = "temporary-secret"
TOKEN = "session-token-value"
URL = "http://127.0.0.1:8080/"
SIGNED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NOW = SIGNED_AT.timestamp()
TS = "20240501T120000Z"


@dataclass(frozen=True)
class Wire:
    """A request as the server sees it: raw path and query, lowercase headers, body bytes."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes

    def with_headers(self, **changes: str | None) -> Wire:
        headers = dict(self.headers)
        for name, value in changes.items():
            key = name.replace("_", "-")
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        return replace(self, headers=headers)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def to_wire(request: AWSRequest) -> Wire:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    # urllib3 sends Host from the URL, which is what botocore signed.
    headers.setdefault("host", parts.netloc)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return Wire(prepared.method, parts.path or "/", parts.query, headers, body)


def aws_request(
    *,
    method: str = "POST",
    url: str = URL,
    body: bytes = b'{"IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000"}',
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> AWSRequest:
    base = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityService.DescribeIdentityPool",
        "User-Agent": "Boto3/1.0 test",
    }
    return AWSRequest(
        method=method,
        url=url,
        headers={**base, **(headers or {})},
        data=body,
        params=dict(params or {}),
    )


def sign(
    *,
    key: str = AK,
    secret: str = SECRET,
    token: str | None = None,
    region: str = "us-east-1",
    service: str = "cognito-identity",
    at: datetime = SIGNED_AT,
    presign_expires: int | None = None,
    **request_args: Any,
) -> Wire:
    request = aws_request(**request_args)
    credentials = Credentials(key, secret, token)
    signer: SigV4Auth
    if presign_expires is None:
        signer = SigV4Auth(credentials, service, region)
    else:
        signer = SigV4QueryAuth(credentials, service, region, expires=presign_expires)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        signer.add_auth(request)
    return to_wire(request)


def directory() -> PrincipalDirectory:
    return PrincipalDirectory(
        [
            PrincipalEntry(AK, SECRET, ACCOUNT),
            PrincipalEntry(TEMP_AK, TEMP_SECRET, "210987654321", TOKEN, NOW + 3600),
        ],
        clock=lambda: NOW,
    )


def verifier(mode: str = "strict", clock: Clock | None = None, **kw: Any) -> SigV4Verifier:
    return SigV4Verifier(directory(), mode=mode, clock=clock or Clock(), **kw)  # type: ignore[arg-type]


def verify(wire: Wire, v: SigV4Verifier | None = None) -> Principal | None:
    return (v or verifier()).verify(wire.method, wire.path, wire.query, wire.headers, wire.body)


# --- accepted ---------------------------------------------------------------------------


def test_botocore_signed_request_is_accepted_with_the_keys_account_and_region() -> None:
    assert verify(sign()) == Principal(AK, ACCOUNT, "us-east-1", verified=True)
    assert verify(sign(region="eu-west-1")) == Principal(AK, ACCOUNT, "eu-west-1")


def test_aws_signature_test_suite_get_vanilla() -> None:
    """An independent vector from the AWS SigV4 test suite, not produced by botocore."""
    v = SigV4Verifier(
        PrincipalDirectory([PrincipalEntry("AKIDEXAMPLE", SECRET, ACCOUNT)]),
        mode="strict",
        clock=lambda: datetime(2015, 8, 30, 12, 36, tzinfo=UTC).timestamp(),
        service="service",
    )
    headers = {
        "host": "example.amazonaws.com",
        "x-amz-date": "20150830T123600Z",
        "authorization": "AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }
    assert v.verify("GET", "/", "", headers, b"") == Principal("AKIDEXAMPLE", ACCOUNT, "us-east-1")


def test_unsigned_headers_may_change_after_signing() -> None:
    wire = sign().with_headers(user_agent="something else", x_forwarded_for="10.0.0.1")
    assert verify(wire) is not None


def test_request_signed_with_a_date_header_instead_of_x_amz_date() -> None:
    wire = sign(headers={"Date": "placeholder, botocore rewrites it"})
    assert "x-amz-date" not in wire.headers
    assert verify(wire) == Principal(AK, ACCOUNT, "us-east-1")


def test_skew_boundary_is_inclusive() -> None:
    assert verify(sign(), verifier(clock=Clock(NOW + 300))) is not None
    assert verify(sign(), verifier(clock=Clock(NOW - 300))) is not None


def test_signed_payload_hash_header_must_match_the_body() -> None:
    body = b'{"MaxResults": 10}'
    good = sign(body=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert verify(good) is not None
    swapped = replace(good, body=b'{"MaxResults": 60}')
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        verify(swapped)
    unsigned_payload = sign(body=body, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        verify(unsigned_payload)


def test_temporary_key_needs_its_session_token() -> None:
    good = sign(key=TEMP_AK, secret=TEMP_SECRET, token=TOKEN)
    assert verify(good) == Principal(TEMP_AK, "210987654321", "us-east-1")
    wrong = sign(key=TEMP_AK, secret=TEMP_SECRET, token="another token")
    with pytest.raises(UnrecognizedClientException) as raised:
        verify(wrong)
    assert raised.value.message == INVALID_TOKEN
    with pytest.raises(UnrecognizedClientException):
        verify(sign(key=TEMP_AK, secret=TEMP_SECRET))
    with pytest.raises(UnrecognizedClientException):  # a long-term key must not carry a token
        verify(sign(token=TOKEN))


def test_expired_temporary_key_is_rejected() -> None:
    at = datetime.fromtimestamp(NOW + 3600, UTC)
    wire = sign(key=TEMP_AK, secret=TEMP_SECRET, token=TOKEN, at=at)
    with pytest.raises(ExpiredTokenException) as raised:
        verify(wire, verifier(clock=Clock(NOW + 3600)))
    assert raised.value.message == EXPIRED_TOKEN


def test_signing_keys_are_derived_once_per_day_region_and_secret() -> None:
    v = verifier()
    with mock.patch.object(sigv4, "derive_signing_key", wraps=sigv4.derive_signing_key) as derive:
        for _ in range(3):
            assert verify(sign(), v) is not None
        assert verify(sign(region="eu-west-1"), v) is not None
    assert derive.call_count == 2


# --- rejected ---------------------------------------------------------------------------


def test_wrong_secret_is_a_signature_mismatch() -> None:
    with pytest.raises(InvalidSignatureException) as raised:
        verify(sign(secret="not-the-secret"))
    assert raised.value.message == SIGNATURE_MISMATCH


def test_unknown_key_in_strict_mode() -> None:
    with pytest.raises(UnrecognizedClientException) as raised:
        verify(sign(key="AKIAUNKNOWN000000000"))
    assert raised.value.message == "The security token included in the request is invalid."


def test_expired_signature_uses_the_aws_message() -> None:
    with pytest.raises(InvalidSignatureException) as raised:
        verify(sign(), verifier(clock=Clock(NOW + 301)))
    assert raised.value.message == (
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z "
        "(20240501T120501Z - 5 min.)"
    )


def test_signature_from_the_future_uses_the_aws_message() -> None:
    with pytest.raises(InvalidSignatureException) as raised:
        verify(sign(), verifier(clock=Clock(NOW - 301)))
    assert raised.value.message == (
        "Signature not yet current: 20240501T120000Z is still later than 20240501T115959Z "
        "(20240501T115459Z + 5 min.)"
    )


def test_skew_window_is_configurable() -> None:
    with pytest.raises(InvalidSignatureException, match=r"- 90 sec\.\)$"):
        verify(sign(), verifier(clock=Clock(NOW + 91), max_skew_seconds=90))


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=AK/20240501/us-east-1/cognito-identity/aws4_request, "
            "SignedHeaders=host;x-amz-date",
            "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 "
            "Credential=AK/20240501/us-east-1/cognito-identity/aws4_request, "
            "SignedHeaders=host;x-amz-date",
        ),
        (
            "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
            "Authorization header requires 'Credential' parameter. Authorization header "
            "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
            "parameter. Authorization=eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
        ),
        (
            # the shape of a real AWS answer (aws-credentials-plugin#72): a space after '='
            "AWS4-HMAC-SHA256 Credential= AK/20240501/us-east-1/cognito-identity/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00",
            "'AK/20240501/us-east-1/cognito-identity/aws4_request' not a valid key=value pair "
            "(missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= "
            "AK/20240501/us-east-1/cognito-identity/aws4_request, SignedHeaders=host;x-amz-date, "
            "Signature=00'.",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AK/20240501/us-east-1, SignedHeaders=host;x-amz-date, "
            "Signature=00",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term, got 'AK/20240501/us-east-1'",
        ),
        (
            "AWS4-HMAC-SHA512 Credential=AK/20240501/us-east-1/cognito-identity/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00",
            "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'. Sign requests with "
            "'AWS4-HMAC-SHA256'.",
        ),
    ],
    ids=["no-signature", "not-sigv4", "missing-equal-sign", "short-credential", "algorithm"],
)
def test_malformed_authorization_header(authorization: str, expected: str) -> None:
    wire = sign().with_headers(authorization=authorization)
    for mode in ("strict", "lax"):
        with pytest.raises(IncompleteSignatureException) as raised:
            verify(wire, verifier(mode))
        assert raised.value.message == expected
        assert SECRET not in raised.value.message


def test_missing_date_header() -> None:
    wire = sign().with_headers(x_amz_date=None)
    with pytest.raises(IncompleteSignatureException) as raised:
        verify(wire)
    assert raised.value.message.startswith(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256 Credential="
    )


def test_malformed_date_header() -> None:
    wire = sign().with_headers(x_amz_date="2024-05-01T12:00:00Z")
    with pytest.raises(IncompleteSignatureException, match="ISO-8601 'basic format'"):
        verify(wire)


def test_altered_body_is_a_signature_mismatch() -> None:
    wire = sign()
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verify(replace(wire, body=wire.body.replace(b"us-east-1", b"us-east-2")))


def test_altered_signed_header_is_a_signature_mismatch() -> None:
    wire = sign().with_headers(x_amz_target="AWSCognitoIdentityService.DeleteIdentityPool")
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verify(wire)


@pytest.mark.parametrize(
    "change", [{"path": "/other"}, {"query": "a=2"}, {"method": "PUT"}], ids=str
)
def test_altered_path_query_or_method_is_a_signature_mismatch(change: dict[str, Any]) -> None:
    wire = sign(url=URL + "?a=1")
    assert verify(wire) is not None
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verify(replace(wire, **change))


def test_wrong_service_in_scope() -> None:
    with pytest.raises(InvalidSignatureException) as raised:
        verify(sign(service="cognito-idp"))
    assert (
        raised.value.message
        == "Credential should be scoped to correct service: 'cognito-identity'. "
    )


def test_region_must_be_served() -> None:
    v = verifier(regions=frozenset({"us-east-1"}))
    assert verify(sign(), v) is not None
    with pytest.raises(InvalidSignatureException) as raised:
        verify(sign(region="eu-west-1"), v)
    assert (
        raised.value.message == "Credential should be scoped to a valid region, not 'eu-west-1'. "
    )
    with pytest.raises(InvalidSignatureException, match="valid region, not 'local'"):
        verify(sign(region="local"))


def test_scope_date_must_match_the_request_date() -> None:
    wire = sign()
    auth = wire.headers["authorization"].replace("/20240501/", "/20240502/")
    with pytest.raises(InvalidSignatureException) as raised:
        verify(wire.with_headers(authorization=auth))
    assert raised.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20240502' != '20240501', from '20240501T120000Z'."
    )


def test_scope_terminator() -> None:
    wire = sign()
    auth = wire.headers["authorization"].replace("/aws4_request", "/aws5_request")
    with pytest.raises(InvalidSignatureException, match="valid terminator: 'aws4_request'"):
        verify(wire.with_headers(authorization=auth))


def test_host_and_date_must_be_signed() -> None:
    wire = sign()
    auth = wire.headers["authorization"]
    no_host = auth.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
    with pytest.raises(InvalidSignatureException) as raised:
        verify(wire.with_headers(authorization=no_host))
    assert raised.value.message == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    )
    no_date = auth.replace(";x-amz-date;", ";")
    assert no_date != auth
    with pytest.raises(InvalidSignatureException, match="'X-Amz-Date' or 'Date' must be"):
        verify(wire.with_headers(authorization=no_date))


# --- presigned (query) form -----------------------------------------------------------


def test_presigned_request_is_accepted() -> None:
    wire = sign(method="GET", body=b"", presign_expires=600, url=URL + "?Action=x")
    assert "authorization" not in wire.headers
    assert "X-Amz-Signature=" in wire.query
    assert verify(wire) == Principal(AK, ACCOUNT, "us-east-1")
    # still valid late in its lifetime, beyond the 5-minute header skew
    assert verify(wire, verifier(clock=Clock(NOW + 600))) is not None


def test_presigned_request_with_security_token() -> None:
    wire = sign(
        key=TEMP_AK, secret=TEMP_SECRET, token=TOKEN, method="GET", body=b"", presign_expires=60
    )
    assert "X-Amz-Security-Token=" in wire.query
    assert verify(wire) == Principal(TEMP_AK, "210987654321", "us-east-1")


def test_expired_presigned_request() -> None:
    wire = sign(method="GET", body=b"", presign_expires=600)
    with pytest.raises(InvalidSignatureException) as raised:
        verify(wire, verifier(clock=Clock(NOW + 601)))
    assert raised.value.message == (
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z "
        "(20240501T121001Z - 600 sec.)"
    )


def test_presigned_request_with_altered_query() -> None:
    wire = sign(method="GET", body=b"", presign_expires=600, url=URL + "?Action=x")
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verify(replace(wire, query=wire.query.replace("Action=x", "Action=y")))


def test_presigned_request_missing_parameters() -> None:
    query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"
    with pytest.raises(IncompleteSignatureException) as raised:
        verifier().verify("GET", "/", query, {"host": "h"}, b"")
    assert raised.value.message == (
        "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string "
        "parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must "
        "include 'X-Amz-Date'. Re-examine the query-string parameters."
    )


def test_presigned_expires_must_be_in_range() -> None:
    wire = sign(method="GET", body=b"", presign_expires=600)
    with pytest.raises(IncompleteSignatureException, match="X-Amz-Expires"):
        verify(replace(wire, query=wire.query.replace("X-Amz-Expires=600", "X-Amz-Expires=0")))


def test_header_and_query_signature_together_are_rejected() -> None:
    presigned = sign(method="GET", body=b"", presign_expires=600)
    both = replace(sign(method="GET", body=b""), query=presigned.query)
    with pytest.raises(IncompleteSignatureException, match="Only one auth mechanism"):
        verify(both)


# --- unsigned -------------------------------------------------------------------------


def test_unsigned_request_is_none() -> None:
    headers = {"host": "h", "x-amz-target": "AWSCognitoIdentityService.GetId"}
    assert verifier().verify("POST", "/", "", headers, b"{}") is None
    assert verifier().verify("POST", "/", "", {**headers, "authorization": "  "}, b"{}") is None


def test_lone_x_amz_date_is_not_a_signature() -> None:
    """The iOS SDK sends X-Amz-Date without Authorization on GetId (aws-sdk-ios#720)."""
    headers = {"host": "h", "x-amz-date": TS}
    assert verifier().verify("POST", "/", "", headers, b"{}") is None
    assert verifier().verify("POST", "/", f"X-Amz-Date={TS}", {"host": "h"}, b"{}") is None


# --- lax mode -------------------------------------------------------------------------


def test_lax_mode_accepts_any_well_formed_signature() -> None:
    lax = verifier("lax", clock=Clock(NOW + 86_400))  # time is not checked either
    assert verify(sign(secret="wrong"), lax) == Principal(AK, ACCOUNT, "us-east-1", verified=False)
    assert verify(sign(key="000011112222", secret="x"), lax) == Principal(
        "000011112222", "000011112222", "us-east-1", verified=False
    )
    assert verify(sign(key="test", secret="test"), lax) == Principal(
        "test", "000000000000", "us-east-1", verified=False
    )


def test_lax_mode_uses_the_configured_default_account() -> None:
    lax = verifier("lax", default_account="999999999999")
    principal = verify(sign(key="test", secret="test"), lax)
    assert principal is not None
    assert principal.account_id == "999999999999"


def test_lax_mode_still_checks_the_scope() -> None:
    with pytest.raises(InvalidSignatureException, match="correct service"):
        verify(sign(service="sts"), verifier("lax"))


# --- equivalence with botocore ----------------------------------------------------------

_NOT_RANDOM = {
    *SIGNED_HEADERS_BLACKLIST,
    "host",
    "authorization",
    "date",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "content-length",
    "content-type",
    "x-amz-target",
}
header_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).filter(
    lambda name: name not in _NOT_RANDOM
)
# Runs of spaces and tabs are frequent on purpose: SigV4 trims and squeezes them.
header_values = st.lists(
    st.one_of(
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8),
        st.sampled_from([" ", "  ", "\t", " \t  "]),
    ),
    max_size=8,
).map("".join)
query_text = st.text(st.characters(codec="utf-8"), max_size=12)
query_params = st.dictionaries(
    query_text.filter(lambda name: bool(name) and not name.startswith("X-Amz-")),
    query_text,
    max_size=4,
)
path_segments = st.lists(
    st.one_of(st.sampled_from([".", "..", ""]), st.text(st.characters(codec="utf-8"))),
    max_size=4,
)


def _botocore_canonical(signer: SigV4Auth, request: AWSRequest) -> str:
    """botocore's own canonical request for what it just signed (without the Authorization)."""
    authorization = request.headers["Authorization"]
    del request.headers["Authorization"]
    try:
        return str(signer.canonical_request(request))
    finally:
        request.headers["Authorization"] = authorization


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    segments=path_segments,
    params=query_params,
    headers=st.dictionaries(header_names, header_values, max_size=5),
    body=st.binary(max_size=300),
    data=st.data(),
)
def test_botocore_signed_random_requests_verify_and_any_body_byte_matters(
    method: str,
    segments: list[str],
    params: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    data: st.DataObject,
) -> None:
    path = "/" + "/".join(quote(segment, safe="") for segment in segments)
    request = aws_request(
        method=method, url="http://127.0.0.1:8080" + path, body=body, headers=headers, params=params
    )
    signer = SigV4Auth(Credentials(AK, SECRET), "cognito-identity", "us-east-1")
    with mock.patch(
        "botocore.auth.get_current_datetime", return_value=SIGNED_AT.replace(tzinfo=None)
    ):
        signer.add_auth(request)
    expected_canonical = _botocore_canonical(signer, request)
    wire = to_wire(request)

    signed_names = tuple(
        wire.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    )
    ours = canonical_request(
        wire.method,
        wire.path,
        canonical_query_string(parse_query(wire.query)),
        wire.headers,
        signed_names,
        hashlib.sha256(wire.body).hexdigest(),
    )
    assert ours == expected_canonical
    assert verify(wire) == Principal(AK, ACCOUNT, "us-east-1")

    if body:
        index = data.draw(st.integers(0, len(body) - 1), label="index")
        flip = data.draw(st.integers(1, 255), label="xor")
        tampered = bytearray(body)
        tampered[index] ^= flip
        with pytest.raises(InvalidSignatureException):
            verify(replace(wire, body=bytes(tampered)))


@settings(max_examples=60, deadline=None)
@given(params=query_params, headers=st.dictionaries(header_names, header_values, max_size=3))
def test_botocore_presigned_random_requests_verify(
    params: dict[str, str], headers: dict[str, str]
) -> None:
    wire = sign(method="GET", body=b"", presign_expires=900, params=params, headers=headers)
    assert verify(wire) == Principal(AK, ACCOUNT, "us-east-1")


# --- strict mode: the operation is covered by the signature (issue 12 §4) ---------------


def _sign_over(names: str, **headers: str) -> Wire:
    """A botocore-signed request whose SignedHeaders is rewritten to `names` and re-signed."""
    wire = sign(headers=headers)
    stripped = {k: v for k, v in wire.headers.items() if k in names.split(";") or k == "host"}
    request = AWSRequest(method="POST", url=URL, headers={}, data=wire.body)
    for name, value in stripped.items():
        if name not in ("authorization", "x-amz-date"):
            request.headers[name] = value
    signed = sign_raw(request)
    return replace(
        signed,
        headers={
            **wire.headers,
            "authorization": signed.headers["authorization"],
            "x-amz-date": signed.headers["x-amz-date"],
        },
    )


def sign_raw(request: AWSRequest) -> Wire:
    signer = SigV4Auth(Credentials(AK, SECRET), "cognito-identity", "us-east-1")
    with mock.patch(
        "botocore.auth.get_current_datetime", return_value=SIGNED_AT.replace(tzinfo=None)
    ):
        signer.add_auth(request)
    return to_wire(request)


@pytest.mark.parametrize(
    ("signed_over", "unsigned"),
    [
        ("host;x-amz-date", "x-amz-target"),
        ("host;x-amz-date;x-amz-target", "content-type"),
        ("content-type;host;x-amz-date;x-amz-target", "x-amz-meta"),
    ],
)
def test_strict_mode_requires_operation_headers_signed(signed_over: str, unsigned: str) -> None:
    wire = _sign_over(signed_over, **{"X-Amz-Meta": "1"})
    assert "SignedHeaders=" + signed_over in wire.headers["authorization"]
    with pytest.raises(InvalidSignatureException, match=f"'{unsigned}' must be a 'SignedHeader'"):
        verify(wire)
    # Lax mode only parses the signature; coverage is a strict-mode rule.
    assert verify(wire, verifier("lax")) is not None


def test_fully_signed_request_with_extra_amz_headers_is_accepted() -> None:
    assert verify(sign(headers={"X-Amz-Meta": "1"})) is not None


# --- vended credentials and the gateway's header-only requests ----------------------------


def _vended(sealer: Any, expires: float = NOW + 3600) -> Any:
    from idpool.domain.records import VendedSession

    session = VendedSession(
        ACCOUNT,
        "arn:aws:iam::123456789012:role/r",
        "s",
        "us-east-1:i",
        "us-east-1:p",
        False,
        "",
        expires,
    )
    return sealer.mint(session)


def test_vended_credentials_verify_in_both_modes_and_carry_their_session() -> None:
    from idpool.vending.sealed import CredentialSealer

    sealer = CredentialSealer("unit")
    creds = _vended(sealer)
    wire = sign(key=creds.access_key_id, secret=creds.secret_key, token=creds.session_token)
    for mode in ("strict", "lax"):
        principal = verify(wire, verifier(mode, sessions=sealer))
        assert principal is not None and principal.session is not None
        assert principal.session.role_arn == "arn:aws:iam::123456789012:role/r"
    with pytest.raises(UnrecognizedClientException):
        verify(wire, verifier())  # without the opener they are unknown keys
    expired = _vended(sealer, NOW - 1)
    stale = sign(key=expired.access_key_id, secret=expired.secret_key, token=expired.session_token)
    with pytest.raises(ExpiredTokenException):
        verify(stale, verifier(sessions=sealer))


def test_header_only_requests_take_the_signed_payload_hash() -> None:
    body = b'{"order": 1}'
    claimed = hashlib.sha256(body).hexdigest()
    wire = sign(body=body, headers={"X-Amz-Content-SHA256": claimed})
    headers_only = replace(wire, body=b"")
    v = verifier()
    assert (
        v.verify(wire.method, wire.path, wire.query, wire.headers, b"", body_forwarded=False)
        is not None
    )
    with pytest.raises(InvalidSignatureException):
        # Forwarded (even empty), the body must match the signed hash.
        verify(headers_only, v)
    unsigned_hash = sign(body=body)
    with pytest.raises(InvalidSignatureException):
        # Without a signed hash there is nothing to stand in for the missing body.
        v.verify(
            "POST",
            unsigned_hash.path,
            unsigned_hash.query,
            unsigned_hash.headers,
            b"",
            body_forwarded=False,
        )
