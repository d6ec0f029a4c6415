"""Cognito user-pool ID tokens under `cognito-idp.<region>.amazonaws.com/<poolId>` keys.

The loopback IdP plays the user pool: tokens carry the real Cognito issuer URL and the
providers configuration points that issuer's JWKS at the loopback port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from idpool.domain.errors import InvalidParameterException, NotAuthorizedException
from idpool.domain.records import CognitoProvider, Pool, VerifiedLogin
from idpool.providers.config import load_providers_config
from idpool.providers.registry import build_login_verifier
from tests.support.idp import LocalIdentityProvider

NOW = 1_700_000_000
KEY = "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
ISSUER = f"https://{KEY}"


@pytest.fixture(scope="module")
def idp() -> Iterator[LocalIdentityProvider]:
    provider = LocalIdentityProvider(issuer=ISSUER)
    yield provider
    provider.close()


def pool(*providers: CognitoProvider) -> Pool:
    return Pool(
        pool_id="us-east-1:00000000-0000-4000-8000-000000000002",
        account_id="123456789012",
        region="us-east-1",
        name="p",
        allow_unauthenticated=False,
        cognito_identity_providers=providers
        or (CognitoProvider(KEY, "app-client-1"), CognitoProvider(KEY, "app-client-2")),
        supported_login_providers={"graph.facebook.com": "123"},
        developer_provider_name="login.example.app",
    )


def raw(idp: LocalIdentityProvider) -> dict[str, Any]:
    return {"issuers": {ISSUER: {"jwks_url": f"{idp.url}/us-east-1_AbCdEf123/jwks.json"}}}


def id_token(idp: LocalIdentityProvider, **claims: Any) -> str:
    base = {"token_use": "id", "aud": "app-client-1", "cognito:username": "alice"}
    return idp.token(idp.claims(NOW, **{**base, **claims}))


def verify(
    idp: LocalIdentityProvider,
    token: str,
    *,
    target: Pool | None = None,
    key: str = KEY,
    revocation: Any = None,
) -> VerifiedLogin:
    async def go() -> VerifiedLogin:
        async with httpx.AsyncClient(timeout=2) as http:
            verifier = build_login_verifier(
                load_providers_config(raw(idp)),
                http,
                lambda: NOW,
                None,
                revocation_check=revocation,
            )
            return await verifier.verify(target or pool(), key, token)

    return asyncio.run(go())


def refused(idp: LocalIdentityProvider, token: str, **kw: Any) -> str:
    with pytest.raises(NotAuthorizedException) as info:
        verify(idp, token, **kw)
    return info.value.message


def test_id_token_accepted_with_aws_formats(idp: LocalIdentityProvider) -> None:
    token = id_token(idp, sub="sub-1", aud="app-client-2", **{"cognito:groups": ["admins"]})
    login = verify(idp, token)
    assert login.subject == "sub-1"
    assert login.provider == KEY
    assert login.amr == f"{KEY}:CognitoSignIn:sub-1"
    assert login.mapping_key == f"{KEY}:app-client-2"
    assert login.claims["cognito:groups"] == ["admins"]


def test_token_for_another_app_client_refused(idp: LocalIdentityProvider) -> None:
    assert refused(idp, id_token(idp, aud="app-client-9")) == (
        "Token is not from a supported provider of this identity pool."
    )


def test_access_token_refused_missing_aud(idp: LocalIdentityProvider) -> None:
    access = idp.token(
        idp.claims(NOW, aud=None, token_use="access", client_id="app-client-1", scope="openid")
    )
    assert refused(idp, access) == "Invalid login token. Missing a required claim: aud"


def test_token_use_must_be_id(idp: LocalIdentityProvider) -> None:
    assert refused(idp, id_token(idp, token_use="access")) == (
        "Invalid login token. Not an ID token."
    )


def test_token_of_another_user_pool_refused(idp: LocalIdentityProvider) -> None:
    other = id_token(idp, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other999")
    assert refused(idp, other) == "Invalid login token. Issuer doesn't match providerName"


def test_non_cognito_token_refused(idp: LocalIdentityProvider) -> None:
    assert refused(idp, id_token(idp, iss="https://accounts.google.com")) == (
        "Invalid login token. Not a Cognito token."
    )
    assert refused(idp, "opaque-facebook-token") == "Invalid login token. Not a Cognito token."


def test_forged_and_expired_user_pool_tokens_refused(idp: LocalIdentityProvider) -> None:
    unsigned = idp.unsigned_token(idp.claims(NOW, token_use="id", aud="app-client-1"))
    assert "Couldn't verify" in refused(idp, unsigned)
    assert "Couldn't verify" in refused(idp, idp.tampered(id_token(idp), sub="someone-else"))
    expired = idp.token(idp.claims(NOW - 7200, token_use="id", aud="app-client-1", lifetime=3600))
    assert refused(idp, expired) == f"Invalid login token. Token expired: {NOW} >= {NOW - 3600}"


def test_unconfigured_user_pool_key_does_not_match(idp: LocalIdentityProvider) -> None:
    other_key = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Other999"
    assert refused(idp, id_token(idp), key=other_key) == (
        "Logins don't match. Please include at least one valid login for this identity "
        "or identity pool."
    )


def test_provider_without_client_id_accepts_any_client(idp: LocalIdentityProvider) -> None:
    login = verify(idp, id_token(idp, aud="whatever-client"), target=pool(CognitoProvider(KEY)))
    assert login.mapping_key == f"{KEY}:whatever-client"


def test_server_side_token_check_hook(idp: LocalIdentityProvider) -> None:
    calls: list[tuple[str, str | None]] = []

    async def revoked(
        provider: str, client_id: str | None, token: str, claims: Mapping[str, Any]
    ) -> None:
        calls.append((provider, client_id))
        if claims.get("sub") == "signed-out":
            raise NotAuthorizedException("Invalid login token. Token has been revoked.")

    checked = pool(
        CognitoProvider(KEY, "app-client-1", server_side_token_check=True),
        CognitoProvider(KEY, "app-client-2"),
    )
    assert verify(idp, id_token(idp, sub="fine"), target=checked, revocation=revoked).subject
    assert "revoked" in refused(
        idp, id_token(idp, sub="signed-out"), target=checked, revocation=revoked
    )
    # Client 2 does not ask for the check.
    verify(
        idp, id_token(idp, sub="signed-out", aud="app-client-2"), target=checked, revocation=revoked
    )
    assert calls == [(KEY, "app-client-1"), (KEY, "app-client-1")]


def test_default_jwks_location_is_the_user_pool_well_known_path() -> None:
    from idpool.providers.config import ProvidersConfig
    from idpool.providers.targets import resolve

    target = resolve(pool(), KEY, ProvidersConfig())
    assert target.source is not None
    assert target.source.jwks_url == f"{ISSUER}/.well-known/jwks.json"
    assert target.audiences == ("app-client-1", "app-client-2")


def test_developer_provider_and_unknown_keys_never_route(idp: LocalIdentityProvider) -> None:
    for key in ("accounts.google.com", "", "www.amazon.com"):
        assert refused(idp, "anything", key=key).startswith("Logins don't match.")
    with pytest.raises(InvalidParameterException):
        verify(idp, "anything", key="login.example.app")


def endpoint_verify(endpoint: str, token: str, **raw_config: Any) -> VerifiedLogin:
    async def go() -> VerifiedLogin:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config({"user_pool_endpoint": endpoint, **raw_config})
            verifier = build_login_verifier(cfg, http, lambda: NOW, None)
            return await verifier.verify(pool(), KEY, token)

    return asyncio.run(go())


def test_user_pool_endpoint_serves_keys_of_any_pool(idp: LocalIdentityProvider) -> None:
    """One setting, no per-pool entry: the keys come from <endpoint>/<poolId>/.well-known/..."""
    before = len(idp.server.requests)
    login = endpoint_verify(idp.url + "/", id_token(idp, sub="emulated"))
    assert login.subject == "emulated"
    assert idp.server.requests[before:] == ["/us-east-1_AbCdEf123/.well-known/jwks.json"]


def test_user_pool_endpoint_still_checks_everything(idp: LocalIdentityProvider) -> None:
    forged = idp.tampered(id_token(idp, sub="victim"), sub="attacker")
    with pytest.raises(NotAuthorizedException) as info:
        endpoint_verify(idp.url, forged)
    assert info.value.message == "Invalid login token. Couldn't verify signed token."
    other_pool = id_token(idp, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other1")
    with pytest.raises(NotAuthorizedException) as info:
        endpoint_verify(idp.url, other_pool)
    assert info.value.message == "Invalid login token. Issuer doesn't match providerName"


def test_user_pool_endpoint_resolution() -> None:
    from idpool.providers.config import ProvidersConfig
    from idpool.providers.targets import resolve

    cfg = load_providers_config({"user_pool_endpoint": "http://127.0.0.1:5000/"})
    assert cfg.user_pool_endpoint == "http://127.0.0.1:5000"
    source = resolve(pool(), KEY, cfg).source
    assert source is not None
    assert source.jwks_url == "http://127.0.0.1:5000/us-east-1_AbCdEf123/.well-known/jwks.json"
    # An explicit issuers entry wins over the endpoint.
    pinned = load_providers_config(
        {
            "user_pool_endpoint": "http://127.0.0.1:5000",
            "issuers": {ISSUER: {"jwks_file": __file__}},
        }
    )
    pinned_source = resolve(pool(), KEY, pinned).source
    assert pinned_source is not None
    assert (pinned_source.jwks_url, pinned_source.jwks_file) == (None, __file__)
    # A pool id that is not plain ASCII never reaches the operator's URL.
    odd = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Ünïcode"
    odd_pool = pool(CognitoProvider(odd, "c"))
    odd_source = resolve(odd_pool, odd, cfg).source
    assert odd_source is not None
    assert odd_source.jwks_url == f"https://{odd}/.well-known/jwks.json"
    assert ProvidersConfig().user_pool_endpoint is None


@pytest.mark.parametrize("bad", ["localhost:5000", "ftp://x", "", 5000])
def test_user_pool_endpoint_must_be_a_url(bad: Any) -> None:
    from idpool.providers.config import ProvidersConfigError

    with pytest.raises(ProvidersConfigError, match=r"providers\.user_pool_endpoint"):
        load_providers_config({"user_pool_endpoint": bad})
