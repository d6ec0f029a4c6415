"""The local vendor: AWS-shaped temporary credentials, reported to whoever must honour them."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import pytest

from idpool.domain.ports import VendRequest
from idpool.domain.records import Identity, Pool
from idpool.vending.local import LocalCredentialVendor

POOL = Pool(
    pool_id="eu-west-1:bbbbbbbb-0000-4000-8000-000000000002",
    account_id="111122223333",
    region="eu-west-1",
    name="local",
    allow_unauthenticated=True,
)
IDENTITY = Identity(
    identity_id="eu-west-1:aaaaaaaa-0000-4000-8000-000000000001",
    pool_id=POOL.pool_id,
    account_id=POOL.account_id,
    created_at=0,
    modified_at=0,
)
ROLE = "arn:aws:iam::111122223333:role/Cognito_Unauth"
NOW = 1_700_000_000.6


def request(duration: int = 3600) -> VendRequest:
    return VendRequest(
        role_arn=ROLE,
        token=None,
        identity=IDENTITY,
        pool=POOL,
        principal_tags={},
        authenticated=False,
        duration_seconds=duration,
    )


def test_shape_and_expiration() -> None:
    vendor = LocalCredentialVendor(clock=lambda: NOW)
    assert vendor.needs_token is False
    creds = asyncio.run(vendor.vend(request()))
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds.access_key_id)
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", creds.secret_key)
    assert len(creds.session_token) > 300
    base64.b64decode(creds.session_token, validate=True)
    assert creds.expiration == 1_700_003_600
    assert asyncio.run(vendor.vend(request(900))).expiration == 1_700_000_900


def test_every_call_mints_new_credentials() -> None:
    vendor = LocalCredentialVendor(clock=lambda: NOW)
    minted = [asyncio.run(vendor.vend(request())) for _ in range(50)]
    for field in ("access_key_id", "secret_key", "session_token"):
        assert len({getattr(c, field) for c in minted}) == 50


def test_sync_recorder_sees_what_was_minted() -> None:
    seen: list[tuple[Any, ...]] = []
    vendor = LocalCredentialVendor(clock=lambda: NOW, on_mint=lambda *args: seen.append(args))
    creds = asyncio.run(vendor.vend(request()))
    assert len(seen) == 1
    minted, session = seen[0]
    assert minted == creds
    assert (session.role_arn, session.identity_id, session.pool_id) == (
        ROLE,
        IDENTITY.identity_id,
        POOL.pool_id,
    )
    assert session.account_id == "111122223333"
    assert session.assumed_role_arn == (
        "arn:aws:sts::111122223333:assumed-role/Cognito_Unauth/CognitoIdentityCredentials"
    )
    assert session.expires_at == creds.expiration and not session.authenticated


def test_async_recorder_is_awaited_and_its_failure_fails_the_call() -> None:
    seen: list[str] = []

    async def record(credentials: Any, session: Any) -> None:
        await asyncio.sleep(0)
        seen.append(credentials.access_key_id)

    creds = asyncio.run(LocalCredentialVendor(clock=lambda: NOW, on_mint=record).vend(request()))
    assert seen == [creds.access_key_id]

    async def broken(*args: Any) -> None:
        raise RuntimeError("registry unavailable")

    with pytest.raises(RuntimeError, match="registry unavailable"):
        asyncio.run(LocalCredentialVendor(clock=lambda: NOW, on_mint=broken).vend(request()))
