"""The local vendor: AWS-shaped temporary credentials, reported to whoever must honour them."""

from __future__ import annotations

import asyncio
import base64
import re

from idpool.domain.ports import VendRequest
from idpool.domain.records import Identity, Pool
from idpool.vending.local import LocalCredentialVendor
from idpool.vending.sealed import CredentialSealer

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


def test_another_replica_with_the_same_secret_opens_them() -> None:
    """No state is shared but the key secret: that is what lets any replica verify."""
    creds = asyncio.run(
        LocalCredentialVendor(lambda: NOW, CredentialSealer("shared")).vend(request())
    )
    opened = CredentialSealer("shared").open(creds.access_key_id, creds.session_token)
    assert opened is not None
    secret, session = opened
    assert secret == creds.secret_key
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
    assert CredentialSealer("other").open(creds.access_key_id, creds.session_token) is None


def test_tampered_or_foreign_tokens_do_not_open() -> None:
    sealer = CredentialSealer("shared")
    creds = asyncio.run(LocalCredentialVendor(lambda: NOW, sealer).vend(request()))
    other = asyncio.run(LocalCredentialVendor(lambda: NOW, sealer).vend(request()))
    raw = bytearray(base64.b64decode(creds.session_token))
    for position in (0, 5, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[position] ^= 1
        token = base64.b64encode(bytes(flipped)).decode()
        assert sealer.open(creds.access_key_id, token) is None
    # A token is bound to its access key id: it cannot be paired with another one.
    assert sealer.open(other.access_key_id, creds.session_token) is None
    for junk in ("", "not base64!", "A" * 5000, base64.b64encode(b"\x01short").decode()):
        assert sealer.open(creds.access_key_id, junk) is None
