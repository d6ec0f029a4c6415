"""`--credential-mode sts`: GetCredentialsForIdentity through a real STS endpoint (moto's server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import make_client
from tests.support.live import LiveServer, live_server, settings_for_tests
from tests.support.sts import moto_sts

AUTH = "arn:aws:iam::123456789012:role/sts-auth"
UNAUTH = "arn:aws:iam::123456789012:role/sts-guest"


@pytest.fixture(scope="module")
def sts_url() -> Iterator[str]:
    with moto_sts() as url:
        yield url


@pytest.fixture(scope="module")
def sts_server(database_url: str, sts_url: str) -> Iterator[LiveServer]:
    settings = settings_for_tests(database_url, credential_mode="sts", sts_endpoint=sts_url)
    with live_server(settings) as live:
        yield live


def test_guest_and_developer_credentials_come_from_sts(sts_server: LiveServer) -> None:
    admin: Any = make_client(sts_server.url)
    public: Any = make_client(sts_server.url, signed=False)
    pool = admin.create_identity_pool(
        IdentityPoolName="sts", AllowUnauthenticatedIdentities=True, DeveloperProviderName="dev.sts"
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool, Roles={"authenticated": AUTH, "unauthenticated": UNAUTH}
    )
    guest = public.get_id(IdentityPoolId=pool)["IdentityId"]
    creds = public.get_credentials_for_identity(IdentityId=guest)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SessionToken"]
    developer = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={"dev.sts": "user-sts"}
    )
    authenticated = public.get_credentials_for_identity(
        IdentityId=developer["IdentityId"],
        Logins={"cognito-identity.amazonaws.com": developer["Token"]},
    )
    assert authenticated["IdentityId"] == developer["IdentityId"]
    assert authenticated["Credentials"]["AccessKeyId"] != creds["AccessKeyId"]
