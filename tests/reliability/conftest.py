"""Fixtures of the reliability suite: a raw HTTP client on the session server, and real targets.

Everything here runs in its own account (a 12-digit access key id is its own account in lax
auth mode), so fuzzed CreateIdentityPool/DeleteIdentityPool calls can neither exhaust the
default account's pool quota nor touch the pools of other test modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.reliability.support import call, ok

if TYPE_CHECKING:
    from tests.support.live import LiveServer

FUZZ_ACCOUNT = "999900000001"
FB = "graph.facebook.com"
GOOGLE = "accounts.google.com"
DEV = "login.reliability"


@dataclass(frozen=True)
class Targets:
    """Real resources for fuzzed requests to aim at, so they reach past "not found"."""

    pool_id: str
    pool_arn: str
    guest_id: str
    member_id: str


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=httpx.Timeout(20.0)) as client:
        yield client
        drop_account_pools(client, FUZZ_ACCOUNT)


def make_pool(client: httpx.Client, account: str = FUZZ_ACCOUNT, **extra: object) -> str:
    params = {
        "IdentityPoolName": "reliability",
        "AllowUnauthenticatedIdentities": True,
        "SupportedLoginProviders": {FB: "app", GOOGLE: "client"},
        "DeveloperProviderName": DEV,
        **extra,
    }
    return str(ok(call(client, "CreateIdentityPool", params, access_key=account))["IdentityPoolId"])


def drop_account_pools(client: httpx.Client, account: str) -> None:
    """Delete every pool of a test account (they accumulate across fuzz examples)."""
    while True:
        listed = ok(call(client, "ListIdentityPools", {"MaxResults": 60}, access_key=account))
        pools = listed["IdentityPools"]
        if not pools:
            return
        for pool in pools:
            call(
                client,
                "DeleteIdentityPool",
                {"IdentityPoolId": pool["IdentityPoolId"]},
                access_key=account,
            )


@pytest.fixture
def targets(http: httpx.Client) -> Targets:
    """Fresh per test: fuzzed Delete*/Update* calls aimed at them may destroy them."""
    pool_id = make_pool(http)
    guest = ok(call(http, "GetId", {"IdentityPoolId": pool_id}))["IdentityId"]
    member = ok(call(http, "GetId", {"IdentityPoolId": pool_id, "Logins": {FB: "fuzz-user"}}))
    for user in ("fuzz-dev", "fuzz-dev-2"):
        developer = {"IdentityPoolId": pool_id, "Logins": {DEV: user}}
        ok(call(http, "GetOpenIdTokenForDeveloperIdentity", developer, access_key=FUZZ_ACCOUNT))
    return Targets(
        pool_id=pool_id,
        pool_arn=f"arn:aws:cognito-identity:us-east-1:{FUZZ_ACCOUNT}:identitypool/{pool_id}",
        guest_id=guest,
        member_id=member["IdentityId"],
    )


def assert_still_serving(client: httpx.Client) -> None:
    """The server answers health checks and a real write after whatever came before."""
    assert client.get("/health").status_code == 200
    pool_id = make_pool(client, account="999900000002")
    ok(call(client, "GetId", {"IdentityPoolId": pool_id}))
    ok(call(client, "DeleteIdentityPool", {"IdentityPoolId": pool_id}, access_key="999900000002"))
