"""Verified logins end to end: trust mode OFF, tokens from a loopback identity provider.

The same login goes through GetId, GetOpenIdToken, GetCredentialsForIdentity and
UnlinkIdentity; forged, expired and foreign tokens are refused with AWS's error shape, and an
unreachable provider answers ExternalServiceException, never a 5xx.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.e2e.test_pools import error_of
from tests.support.idp import LocalIdentityProvider
from tests.support.live import live_server, settings_for_tests

HOST = "idp.verified.test"
ARN = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
CLIENT = "verified-app"
DOWN_HOST = "idp.down.test"
DOWN_ARN = f"arn:aws:iam::123456789012:oidc-provider/{DOWN_HOST}"
AUTH = "arn:aws:iam::123456789012:role/verified"


@dataclass(frozen=True)
class Verified:
    admin: Any
    public: Any
    pool: str
    idp: LocalIdentityProvider
    down_idp: LocalIdentityProvider


@pytest.fixture(scope="module")
def verified(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verified]:
    idp = LocalIdentityProvider(issuer=f"https://{HOST}")
    down_idp = LocalIdentityProvider(issuer=f"https://{DOWN_HOST}")
    providers = tmp_path_factory.mktemp("verified") / "providers.yaml"
    providers.write_text(
        f"issuers:\n  https://{HOST}:\n    jwks_url: {idp.jwks_url}\n"
        f"  https://{DOWN_HOST}:\n    jwks_url: {down_idp.jwks_url}\n"
        f"oidc_providers:\n  {ARN}:\n    client_ids: [{CLIENT}]\n"
        f"  {DOWN_ARN}:\n    client_ids: [{CLIENT}]\n"
    )
    settings = settings_for_tests(database_url, trust_mode=False, providers_file=str(providers))
    try:
        with live_server(settings) as live:
            admin = make_client(live.url)
            pool = admin.create_identity_pool(
                IdentityPoolName="verified",
                AllowUnauthenticatedIdentities=True,
                OpenIdConnectProviderARNs=[ARN, DOWN_ARN],
            )["IdentityPoolId"]
            admin.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": AUTH})
            yield Verified(admin, make_client(live.url, signed=False), pool, idp, down_idp)
    finally:
        idp.close()
        down_idp.close()


def token(v: Verified, sub: str, **claims: Any) -> str:
    return v.idp.token(v.idp.claims(aud=CLIENT, sub=sub, **claims))


def test_one_login_through_every_public_operation(verified: Verified) -> None:
    v = verified
    sub = f"user-{uuid.uuid4().hex[:8]}"
    logins = {HOST: token(v, sub)}
    identity = v.public.get_id(IdentityPoolId=v.pool, Logins=logins)["IdentityId"]
    assert (
        v.public.get_id(IdentityPoolId=v.pool, Logins={HOST: token(v, sub)})["IdentityId"]
        == identity
    )
    opened = v.public.get_open_id_token(IdentityId=identity, Logins=logins)
    assert opened["IdentityId"] == identity and opened["Token"]
    creds = v.public.get_credentials_for_identity(IdentityId=identity, Logins=logins)
    assert creds["Credentials"]["AccessKeyId"].startswith("ASIA")
    v.public.unlink_identity(IdentityId=identity, Logins=logins, LoginsToRemove=[HOST])
    assert v.admin.describe_identity(IdentityId=identity)["Logins"] == []
    fresh = v.public.get_id(IdentityPoolId=v.pool, Logins={HOST: token(v, sub)})["IdentityId"]
    assert fresh != identity


@pytest.mark.parametrize(
    ("attack", "message"),
    [
        ("expired", "Invalid login token. Token expired"),
        ("wrong_audience", "Token is not from a supported provider of this identity pool."),
        ("wrong_issuer", "Invalid login token. Issuer doesn't match providerName"),
        ("tampered", "Invalid login token. Couldn't verify signed token."),
        ("alg_none", None),
        ("hs256_with_public_key", None),
        ("garbage", None),
    ],
)
def test_attacks_are_refused(verified: Verified, attack: str, message: str | None) -> None:
    v = verified
    idp = v.idp
    good_claims = idp.claims(aud=CLIENT, sub="victim")
    forged = {
        "expired": lambda: idp.token(idp.claims(aud=CLIENT, sub="victim", now=0)),
        "wrong_audience": lambda: idp.token(idp.claims(aud="other-app", sub="victim")),
        "wrong_issuer": lambda: idp.token(
            idp.claims(aud=CLIENT, sub="victim", iss="https://evil.test")
        ),
        "tampered": lambda: idp.tampered(idp.token(good_claims), sub="someone-else"),
        "alg_none": lambda: idp.unsigned_token(good_claims),
        "hs256_with_public_key": lambda: idp.hs256_with_public_key(good_claims),
        "garbage": lambda: "not-a-jwt",
    }[attack]()
    with pytest.raises(ClientError) as exc:
        v.public.get_id(IdentityPoolId=v.pool, Logins={HOST: forged})
    code, text, status = error_of(exc)
    assert (code, status) == ("NotAuthorizedException", 400)
    if message is not None:
        assert text.startswith(message)


def test_provider_down_is_external_service_error(verified: Verified) -> None:
    v = verified
    idp = v.down_idp
    signed = idp.token(idp.claims(aud=CLIENT, sub="during-outage"))
    idp.down()
    try:
        with pytest.raises(ClientError) as exc:
            v.public.get_id(IdentityPoolId=v.pool, Logins={DOWN_HOST: signed})
        assert error_of(exc)[0] == "ExternalServiceException"
        assert error_of(exc)[2] == 400
    finally:
        idp.up()
