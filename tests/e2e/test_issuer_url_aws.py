"""`--issuer-url https://cognito-identity.amazonaws.com`: tokens with AWS's `iss`, as
docs/compatibility.md promises, still accepted back by idpool itself."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_client
from tests.support.live import LiveServer, live_server, settings_for_tests

AWS_ISSUER = "https://cognito-identity.amazonaws.com"


@pytest.fixture(scope="module")
def aws_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    db: Path = tmp_path_factory.mktemp("issuer") / "idpool.sqlite3"
    with live_server(settings_for_tests(f"sqlite:///{db}", issuer_url=AWS_ISSUER)) as live:
        yield live


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_tokens_carry_aws_issuer_and_still_verify(aws_issuer: LiveServer) -> None:
    admin: Any = make_client(aws_issuer.url)
    public: Any = make_client(aws_issuer.url, signed=False)
    pool = admin.create_identity_pool(
        IdentityPoolName="aws-iss", AllowUnauthenticatedIdentities=True, DeveloperProviderName="d"
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool, Roles={"authenticated": "arn:aws:iam::123456789012:role/a"}
    )
    result = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={"d": "user-1"}
    )
    assert claims_of(result["Token"])["iss"] == AWS_ISSUER
    creds = public.get_credentials_for_identity(
        IdentityId=result["IdentityId"],
        Logins={"cognito-identity.amazonaws.com": result["Token"]},
    )
    assert creds["IdentityId"] == result["IdentityId"]
    discovery = httpx.get(f"{aws_issuer.url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == AWS_ISSUER
