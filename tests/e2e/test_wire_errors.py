"""The wire contract on raw HTTP: error shapes, headers, malformed input, validation."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest


def _assert_error(response: httpx.Response, code: str, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-errortype"] == f"{code}:"
    assert response.headers["x-amzn-requestid"]
    body = response.json()
    assert body["__type"] == code
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


def test_success_headers(raw: Any, pool_factory: Any) -> None:
    pool = pool_factory()
    response = raw("GetId", {"IdentityPoolId": pool["IdentityPoolId"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert len(response.headers["x-amzn-requestid"]) == 36
    assert set(response.json()) == {"IdentityId"}


def test_unknown_and_missing_target(raw: Any) -> None:
    _assert_error(raw("NoSuchOperation", {}), "UnknownOperationException")
    _assert_error(raw(None, {}), "UnknownOperationException")
    _assert_error(
        raw(None, {}, **{"x-amz-target": "SomethingElse.GetId"}), "UnknownOperationException"
    )


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b'{"a": '])
def test_malformed_json(raw: Any, body: bytes) -> None:
    _assert_error(raw("GetId", body), "SerializationException")


def test_empty_body_is_validated_as_empty_object(raw: Any) -> None:
    body = _assert_error(raw("GetId", b""), "ValidationException")
    assert body["message"] == (
        "1 validation error detected: Value null at 'identityPoolId' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_application_json_is_accepted(raw: Any, pool_factory: Any) -> None:
    pool = pool_factory()
    response = raw(
        "GetId", {"IdentityPoolId": pool["IdentityPoolId"]}, **{"content-type": "application/json"}
    )
    assert response.status_code == 200


def test_user_pool_id_as_identity_pool_id(raw: Any) -> None:
    body = _assert_error(
        raw("GetId", {"IdentityPoolId": "us-east-1_AbCdEf123"}), "ValidationException"
    )
    assert body["message"] == (
        "1 validation error detected: Value 'us-east-1_AbCdEf123' at 'identityPoolId' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+"
    )


def test_several_violations(raw: Any) -> None:
    body = _assert_error(
        raw("GetId", {"IdentityPoolId": "bad", "AccountId": "x" * 20}), "ValidationException"
    )
    assert body["message"].startswith("3 validation errors detected: ")
    for member in ("'identityPoolId'", "'accountId'"):
        assert member in body["message"]


def test_signed_operation_without_signature(server: Any) -> None:
    response = httpx.post(
        server.url,
        content=json.dumps({"MaxResults": 5}),
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "AWSCognitoIdentityService.ListIdentityPools",
        },
    )
    _assert_error(response, "MissingAuthenticationTokenException")


def test_get_routes_and_unknown_paths(server: Any) -> None:
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/ready").status_code == 200
    assert httpx.get(f"{server.url}/nope").status_code == 404
    wrong_method = httpx.put(f"{server.url}/", content=b"{}")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["__type"] == "UnknownOperationException"


def test_body_too_large(raw: Any) -> None:
    big = b'{"IdentityPoolId": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = raw("GetId", big)
    _assert_error(response, "RequestEntityTooLargeException", 413)


def test_cors_preflight(server: Any) -> None:
    response = httpx.options(
        server.url,
        headers={
            "origin": "http://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-amz-target,x-amz-user-agent",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    allowed = response.headers["access-control-allow-headers"]
    for header in ("x-amz-target", "x-amz-user-agent", "amz-sdk-invocation-id", "authorization"):
        assert header in allowed
