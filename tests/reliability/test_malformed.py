"""Malformed requests below the level of members: bodies, targets, content types, methods, paths.

Each answer must be an AWS-shaped 4xx (never a 5xx, never a hang), and the server must keep
serving afterwards.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import FUZZ_ACCOUNT, Targets, assert_still_serving
from tests.reliability.hostile import nested, nested_objects
from tests.reliability.support import JSON_TYPE, api_headers, assert_aws_answer, aws_error

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def post(
    client: httpx.Client,
    body: bytes,
    operation: str | None = "GetId",
    *,
    signed: bool | None = None,
    extra: dict[str, str] | None = None,
) -> httpx.Response:
    sent = api_headers(str(client.base_url), operation, body, access_key=FUZZ_ACCOUNT, sign=signed)
    sent.update(extra or {})
    return client.post("/", content=body, headers=latin1(sent))


def latin1(headers: dict[str, str]) -> dict[bytes, bytes]:
    """Headers as raw bytes, so non-ASCII values go on the wire as they are."""
    return {name.encode(): value.encode("latin-1") for name, value in headers.items()}


NOT_JSON = [
    b"{not json",
    b"null",
    b"true",
    b"42",
    b'"a string"',
    b"[]",
    b"[{}]",
    b"\x00\x01\x02",
    b"\xff\xfe{\x00}\x00",
    b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    b'{"IdentityPoolId": "us-east-1:0"}{"again": 1}',
    b'{"IdentityPoolId": NaN}',
    b'{"IdentityPoolId": 1e999999}',
    b'{"IdentityPoolId": 123456789012345678901234567890}',
    b'{"a": "\\ud800"}',
    b'{"a": "\xc3\x28"}',  # invalid UTF-8 inside a string
    b'{"a": 1, "a": 2}',
    b"<xml/>",
    b"   \n\t ",
    b"Action=GetId&Version=2014-06-30",
]


@pytest.mark.parametrize("operation", ["GetId", "DescribeIdentityPool", "TagResource"])
@pytest.mark.parametrize("body", NOT_JSON, ids=repr)
def test_bodies_that_are_not_json_objects(http: httpx.Client, operation: str, body: bytes) -> None:
    assert_aws_answer(post(http, body, operation), operation)


@pytest.mark.parametrize("operation", ["GetId", "CreateIdentityPool", "SetIdentityPoolRoles"])
def test_truncated_bodies(http: httpx.Client, targets: Targets, operation: str) -> None:
    documents: dict[str, dict[str, Any]] = {
        "GetId": {"IdentityPoolId": targets.pool_id, "Logins": {"graph.facebook.com": "u\u00e9"}},
        "CreateIdentityPool": {
            "IdentityPoolName": "trunc",
            "AllowUnauthenticatedIdentities": True,
            "IdentityPoolTags": {"k": "v\u00e9"},
        },
        "SetIdentityPoolRoles": {
            "IdentityPoolId": targets.pool_id,
            "Roles": {"unauthenticated": "arn:aws:iam::123456789012:role/r"},
        },
    }
    document = documents[operation]
    body = json.dumps(document, ensure_ascii=False).encode()

    @BOUNDED
    @given(cut=st.integers(0, len(body) - 1))
    def prop(cut: int) -> None:
        response = post(http, body[:cut], operation)
        assert_aws_answer(response, operation)
        assert response.status_code >= 400

    prop()


@pytest.mark.parametrize("depth", [10, 500, 1_000, 5_000, 100_000])
@pytest.mark.parametrize("form", ["arrays", "objects", "member"])
def test_deep_nesting(http: httpx.Client, depth: int, form: str) -> None:
    if form == "arrays":
        body = nested(depth)
    elif form == "objects":
        body = nested_objects(depth)
    else:
        body = (
            b'{"IdentityPoolId": ' + nested(depth) + b', "Logins": ' + nested_objects(depth) + b"}"
        )
    response = post(http, body, "GetId")
    assert_aws_answer(response, "GetId")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "application/x-amz-json-1.0",
        "",
        "\u00ff\u00fe",
    ],
)
def test_content_types(http: httpx.Client, targets: Targets, content_type: str) -> None:
    body = json.dumps({"IdentityPoolId": targets.pool_id}).encode()
    response = post(http, body, "GetId", extra={"content-type": content_type})
    assert_aws_answer(response, "GetId")


def test_missing_content_type(http: httpx.Client, targets: Targets) -> None:
    body = json.dumps({"IdentityPoolId": targets.pool_id}).encode()
    response = http.post(
        "/", content=body, headers={"x-amz-target": "AWSCognitoIdentityService.GetId"}
    )
    assert_aws_answer(response, "GetId")


@pytest.mark.parametrize("operation", ["GetId", "ListIdentityPools"])
def test_empty_body(http: httpx.Client, operation: str) -> None:
    response = post(http, b"", operation)
    assert aws_error(response)[0] == "ValidationException"


def test_ten_megabyte_body(http: httpx.Client) -> None:
    body = b'{"IdentityPoolId": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    response = post(http, body, "GetId")
    assert response.status_code == 413
    assert aws_error(response)[0] == "RequestEntityTooLargeException"
    assert_still_serving(http)


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "AWSCognitoIdentityService.",
        "AWSCognitoIdentityService.getid",
        "AWSCognitoIdentityService.GetId,GetId",
        "AWSCognitoIdentityService.GetId.GetId",
        "AWSCognitoIdentityService.__class__",
        "AWSCognitoIdentityService.constructor",
        "AWSCognitoIdentityServiceGetId",
        "GetId",
        "CognitoIdentity.GetId",
        "AWSCognitoIdentityProviderService.InitiateAuth",
        "A" * 8000,
        "\u00ff\u00e9\u00e8",
    ],
    ids=lambda t: repr(t)[:40],
)
def test_missing_or_garbage_target(http: httpx.Client, target: str | None) -> None:
    headers = {"content-type": JSON_TYPE}
    if target is not None:
        headers["x-amz-target"] = target
    response = http.post("/", content=b"{}", headers=latin1(headers))
    assert response.status_code == 400
    assert aws_error(response)[0] == "UnknownOperationException"


@pytest.mark.parametrize(
    "method", ["GET", "PUT", "DELETE", "PATCH", "HEAD", "TRACE", "PROPFIND", "FOO"]
)
@pytest.mark.parametrize("path", ["/", "/x", "//", "/%00", "/" + "a" * 4000])
def test_methods_other_than_post(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(
        method,
        path,
        content=b"{}",
        headers={"content-type": JSON_TYPE, "x-amz-target": "AWSCognitoIdentityService.GetId"},
    )
    if method == "FOO":
        # Not an HTTP method at all: the HTTP parser refuses it before the application runs.
        assert response.status_code == 400
        return
    assert response.status_code in (404, 405), (method, path, response.status_code)
    if method != "HEAD":
        assert aws_error(response)[0] == "UnknownOperationException"


@pytest.mark.parametrize("path", ["/x", "//", "/?Action=GetId", "/%2e%2e/"])
def test_post_elsewhere_is_not_an_operation(http: httpx.Client, path: str) -> None:
    response = http.post(
        path,
        content=b"{}",
        headers={"content-type": JSON_TYPE, "x-amz-target": "AWSCognitoIdentityService.GetId"},
    )
    assert response.status_code < 500
    if response.status_code >= 400:
        aws_error(response)


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
        "AWS4-HMAC-SHA256 Credential=A/20200101/us-east-1/cognito-identity/aws4_request",
        "AWS4-HMAC-SHA256 Credential=A/x/y/z/w, SignedHeaders=host;nope, Signature=zz",
        "Bearer abc",
        "Basic " + "A" * 6000,
        "AWS4-HMAC-SHA256 " + ",".join(["Credential=x"] * 500),
        "\u00ff\u00ff",
    ],
    ids=lambda a: a[:40],
)
def test_garbage_authorization(http: httpx.Client, authorization: str) -> None:
    for operation in ("ListIdentityPools", "GetId"):
        response = post(
            http,
            b'{"MaxResults": 5}',
            operation,
            signed=False,
            extra={"authorization": authorization},
        )
        assert response.status_code == 400, response.text
        aws_error(response)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        b"GARBAGE / HTTP/1.1\r\n\r\n",
        b"POST / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\r\n" * 1000,
    ],
    ids=lambda p: repr(p[:20]),
)
def test_broken_http_never_takes_the_server_down(http: httpx.Client, payload: bytes) -> None:
    port = int(str(http.base_url).rsplit(":", 1)[1].rstrip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    if answer:
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:300]
    assert_still_serving(http)
