"""The sts vendor against a running STS (moto's server on loopback), and its error mapping."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa

from idpool.domain.errors import (
    INVALID_POOL_CONFIG,
    ExternalServiceException,
    InvalidIdentityPoolConfigurationException,
)
from idpool.domain.ports import VendRequest
from idpool.domain.records import Identity, Pool
from idpool.service.tokens import amr_for, build_claims
from idpool.signing.jwt import sign_compact
from idpool.vending.sts import GUEST_SESSION_POLICY, SESSION_NAME, StsCredentialVendor
from tests.support.sts import moto_sts

POOL = Pool(
    pool_id="us-east-1:bbbbbbbb-0000-4000-8000-000000000002",
    account_id="123456789012",
    region="us-east-1",
    name="sts",
    allow_unauthenticated=True,
)
IDENTITY = Identity(
    identity_id="us-east-1:aaaaaaaa-0000-4000-8000-000000000001",
    pool_id=POOL.pool_id,
    account_id=POOL.account_id,
    created_at=0,
    modified_at=0,
)
AUTH_ROLE = "arn:aws:iam::123456789012:role/Cognito_Auth"
GUEST_ROLE = "arn:aws:iam::123456789012:role/Cognito_Unauth"


@pytest.fixture(scope="module")
def sts_url() -> Iterator[str]:
    with moto_sts() as url:
        yield url


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(key: rsa.RSAPrivateKey, authenticated: bool) -> str:
    claims = build_claims(
        issuer="https://idpool.example",
        pool=POOL,
        identity_id=IDENTITY.identity_id,
        amr=amr_for(authenticated),
        issued_at=time.time(),
        lifetime=600,
        principal_tags={"team": "blue"} if authenticated else None,
    )
    return sign_compact(key, "us-east-1-test", claims)


def request(role: str, tok: str | None, authenticated: bool) -> VendRequest:
    return VendRequest(
        role_arn=role,
        token=tok,
        identity=IDENTITY,
        pool=POOL,
        principal_tags={},
        authenticated=authenticated,
    )


def sessions_seen_by_sts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/moto-api/data.json") as response:
        return list(json.load(response)["sts"]["AssumedRole"])


@pytest.mark.parametrize(("authenticated", "role"), [(True, AUTH_ROLE), (False, GUEST_ROLE)])
def test_credentials_from_sts(
    sts_url: str, signing_key: rsa.RSAPrivateKey, authenticated: bool, role: str
) -> None:
    vendor = StsCredentialVendor(endpoint_url=sts_url, region="us-east-1")
    assert vendor.needs_token
    before = time.time()
    creds = asyncio.run(
        vendor.vend(request(role, token(signing_key, authenticated), authenticated))
    )
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds.access_key_id)
    assert len(creds.secret_key) == 40 and creds.session_token
    assert before + 3600 - 2 <= creds.expiration <= time.time() + 3600 + 2

    (session,) = [
        s for s in sessions_seen_by_sts(sts_url) if s["access_key_id"] == creds.access_key_id
    ]
    assert session["role_arn"] == role
    assert session["session_name"] == SESSION_NAME == "CognitoIdentityCredentials"
    if authenticated:
        assert session["policy"] is None
    else:
        assert json.loads(session["policy"]) == json.loads(GUEST_SESSION_POLICY)


def test_guest_policy_is_compact_and_scoped() -> None:
    policy = json.loads(GUEST_SESSION_POLICY)
    assert len(GUEST_SESSION_POLICY) < 2048  # STS's limit on a plain-text session policy
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow" and statement["Resource"] == "*"
    assert "cognito-identity:*" in statement["Action"]
    assert "s3:*" in statement["Action"] and "iam:*" not in statement["Action"]
    assert not any(a == "*" or a.startswith("sts:") for a in statement["Action"])


class RefusingClient:
    def __init__(self, code: str, status: int) -> None:
        self.error = ClientError(
            {
                "Error": {"Code": code, "Message": "no"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "AssumeRoleWithWebIdentity",
        )
        self.calls: list[dict[str, Any]] = []

    def assume_role_with_web_identity(self, **params: Any) -> Any:
        self.calls.append(params)
        raise self.error


@pytest.mark.parametrize(
    "code",
    ["AccessDenied", "PackedPolicyTooLarge", "InvalidIdentityToken", "IDPRejectedClaim"],
)
def test_refusals_are_the_pools_configuration(code: str) -> None:
    client = RefusingClient(code, 400)
    vendor = StsCredentialVendor(endpoint_url=None, region="us-east-1", client=client)
    with pytest.raises(InvalidIdentityPoolConfigurationException) as exc:
        asyncio.run(vendor.vend(request(AUTH_ROLE, "a.b.c", True)))
    assert exc.value.message == INVALID_POOL_CONFIG
    assert client.calls[0]["RoleSessionName"] == SESSION_NAME
    assert client.calls[0]["DurationSeconds"] == 3600 and "Policy" not in client.calls[0]


@pytest.mark.parametrize(("code", "status"), [("Throttling", 400), ("InternalFailure", 500)])
def test_a_struggling_sts_is_an_external_failure(code: str, status: int) -> None:
    vendor = StsCredentialVendor(
        endpoint_url=None, region="us-east-1", client=RefusingClient(code, status)
    )
    with pytest.raises(ExternalServiceException):
        asyncio.run(vendor.vend(request(AUTH_ROLE, "a.b.c", True)))


def test_unreachable_sts_is_an_external_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    vendor = StsCredentialVendor(
        endpoint_url=f"http://127.0.0.1:{port}", region="us-east-1", timeout=1, max_attempts=1
    )
    with pytest.raises(ExternalServiceException, match="not responding"):
        asyncio.run(vendor.vend(request(AUTH_ROLE, "a.b.c", True)))


def test_a_role_sts_cannot_parse_is_a_configuration_error(sts_url: str) -> None:
    vendor = StsCredentialVendor(endpoint_url=sts_url, region="us-east-1")
    with pytest.raises(InvalidIdentityPoolConfigurationException):
        asyncio.run(vendor.vend(request("short", "a.b.c", True)))


def test_the_token_is_required(sts_url: str) -> None:
    vendor = StsCredentialVendor(endpoint_url=sts_url, region="us-east-1")
    with pytest.raises(ValueError, match="token"):
        asyncio.run(vendor.vend(request(AUTH_ROLE, None, True)))
