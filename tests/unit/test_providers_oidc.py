"""OIDC logins (IAM OIDC provider ARNs, Google, Apple) against a loopback identity provider.

Every attack from issue 4 must end in NotAuthorizedException with AWS's message; a valid token
must give the provider's `sub`, its claims, AWS's `amr` entry and the RoleMappings key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from idpool.domain.errors import ExternalServiceException, NotAuthorizedException
from idpool.domain.records import Pool, VerifiedLogin
from idpool.providers.config import load_providers_config
from idpool.providers.registry import build_login_verifier
from tests.support.idp import LocalIdentityProvider

NOW = 1_700_000_000
ISSUER_HOST = "idp.test/realms/dev"
ISSUER = f"https://{ISSUER_HOST}"
ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER_HOST}"


@pytest.fixture(scope="module")
def idp() -> Iterator[LocalIdentityProvider]:
    provider = LocalIdentityProvider(issuer=ISSUER)
    yield provider
    provider.close()


@pytest.fixture(autouse=True)
def _provider_up(idp: LocalIdentityProvider) -> None:
    idp.up()


def pool(**kw: Any) -> Pool:
    return Pool(
        pool_id="us-east-1:00000000-0000-4000-8000-000000000001",
        account_id="123456789012",
        region="us-east-1",
        name="p",
        allow_unauthenticated=False,
        open_id_connect_provider_arns=(ARN,),
        **kw,
    )


def config(idp: LocalIdentityProvider, **extra: Any) -> dict[str, Any]:
    return {
        "issuers": {ISSUER: {"discovery_url": idp.discovery_url}},
        "oidc_providers": {ARN: {"client_ids": ["client-1", "client-2"]}},
        **extra,
    }


def verify(
    raw: dict[str, Any], key: str, token: str, *, target: Pool | None = None, now: float = NOW
) -> VerifiedLogin:
    async def go() -> VerifiedLogin:
        async with httpx.AsyncClient(timeout=2) as http:
            verifier = build_login_verifier(load_providers_config(raw), http, lambda: now, None)
            return await verifier.verify(target or pool(), key, token)

    return asyncio.run(go())


def refused(raw: dict[str, Any], key: str, token: str, **kw: Any) -> str:
    with pytest.raises(NotAuthorizedException) as info:
        verify(raw, key, token, **kw)
    return info.value.message


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256", "ES256", "Ed25519", "EdDSA"])
def test_valid_token_gives_subject_claims_amr_and_mapping_key(
    idp: LocalIdentityProvider, alg: str
) -> None:
    claims = idp.claims(NOW, sub="user-1", email="u@example.com")
    login = verify(config(idp), ISSUER_HOST, idp.token(claims, alg=alg))
    assert login.provider == ISSUER_HOST
    assert login.subject == "user-1"
    assert login.claims["email"] == "u@example.com"
    assert login.amr == f"{ARN}:OIDC:user-1"
    assert login.mapping_key == ARN


def test_audience_list_and_azp(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW, aud=["other", "client-2"]))
    assert verify(config(idp), ISSUER_HOST, token).subject
    with_azp = idp.token(idp.claims(NOW, aud="client-1", azp="android-app"))
    assert refused(config(idp), ISSUER_HOST, with_azp) == (
        "Token is not from a supported provider of this identity pool."
    )


def test_alg_none_refused(idp: LocalIdentityProvider) -> None:
    token = idp.unsigned_token(idp.claims(NOW))
    assert refused(config(idp), ISSUER_HOST, token) == (
        "Invalid login token. Couldn't verify signed token."
    )


def test_hs256_signed_with_rsa_public_key_refused(idp: LocalIdentityProvider) -> None:
    token = idp.hs256_with_public_key(idp.claims(NOW))
    assert refused(config(idp), ISSUER_HOST, token) == (
        "Invalid login token. Couldn't verify signed token."
    )


def test_expired_refused_with_aws_message(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW - 4000, lifetime=3600))
    assert refused(config(idp), ISSUER_HOST, token) == (
        f"Invalid login token. Token expired: {NOW} >= {NOW - 400}"
    )


def test_leeway_accepts_small_skew_only(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW - 3630, lifetime=3600))  # expired 30 s ago
    assert verify(config(idp), ISSUER_HOST, token).subject
    assert "Token expired" in refused(config(idp, leeway_seconds=0), ISSUER_HOST, token)


def test_not_yet_valid_refused(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW, nbf=NOW + 600))
    assert refused(config(idp), ISSUER_HOST, token).startswith(
        "Invalid login token. Token is not valid yet"
    )


def test_wrong_audience_refused(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW, aud="someone-else"))
    assert refused(config(idp), ISSUER_HOST, token) == (
        "Token is not from a supported provider of this identity pool."
    )


def test_missing_audience_refused(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW, aud=None))
    assert refused(config(idp), ISSUER_HOST, token) == (
        "Invalid login token. Missing a required claim: aud"
    )


def test_wrong_issuer_refused(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW, iss="https://evil.test/realms/dev"))
    assert refused(config(idp), ISSUER_HOST, token) == (
        "Invalid login token. Issuer doesn't match providerName"
    )


def test_unknown_kid_refused(idp: LocalIdentityProvider) -> None:
    from joserfc.jwk import RSAKey

    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
    token = idp.token(idp.claims(NOW), key=stranger, kid="not-published")
    assert refused(config(idp), ISSUER_HOST, token) == (
        "Invalid login token. Couldn't verify signed token."
    )


def test_foreign_key_with_published_kid_refused(idp: LocalIdentityProvider) -> None:
    from joserfc.jwk import RSAKey

    stranger = RSAKey.generate_key(2048)
    token = idp.token(idp.claims(NOW), key=stranger, kid=idp.current_rsa_kid())
    assert "Couldn't verify" in refused(config(idp), ISSUER_HOST, token)


def test_tampered_payload_refused(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW, sub="alice"))
    forged = idp.tampered(token, sub="admin")
    assert refused(config(idp), ISSUER_HOST, forged) == (
        "Invalid login token. Couldn't verify signed token."
    )


def test_alg_header_swapped_to_another_rsa_alg_refused(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW), alg="RS256")
    _, payload, signature = token.split(".")
    from tests.support.idp import b64json

    header = b64json({"alg": "PS256", "kid": idp.current_rsa_kid()})
    assert "Couldn't verify" in refused(config(idp), ISSUER_HOST, f"{header}.{payload}.{signature}")


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "..", "ä.ö.ü"],
)
def test_malformed_tokens_are_not_authorized(idp: LocalIdentityProvider, token: str) -> None:
    assert refused(config(idp), ISSUER_HOST, token).startswith("Invalid login token.")


def test_missing_subject_refused(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW, sub=None))
    assert refused(config(idp), ISSUER_HOST, token) == (
        "Invalid login token. Missing a required claim: sub"
    )


def test_unregistered_oidc_provider_accepts_no_audience(idp: LocalIdentityProvider) -> None:
    raw: dict[str, Any] = {"issuers": {ISSUER: {"discovery_url": idp.discovery_url}}}
    token = idp.token(idp.claims(NOW))
    assert refused(raw, ISSUER_HOST, token) == (
        "Token is not from a supported provider of this identity pool."
    )
    raw["issuers"][ISSUER]["client_ids"] = ["client-1"]
    assert verify(raw, ISSUER_HOST, token).mapping_key == ARN


def test_provider_down_is_external_service_error(idp: LocalIdentityProvider) -> None:
    token = idp.token(idp.claims(NOW))
    for mode in ("503", "garbage", "closed"):
        idp.down(mode)
        with pytest.raises(ExternalServiceException):
            verify(config(idp), ISSUER_HOST, token)


def test_google_accepts_both_issuer_spellings_and_checks_app_id(
    idp: LocalIdentityProvider,
) -> None:
    raw = {"issuers": {"https://accounts.google.com": {"jwks_url": idp.jwks_url}}}
    google = pool(supported_login_providers={"accounts.google.com": "web-client"})
    for iss in ("accounts.google.com", "https://accounts.google.com"):
        token = idp.token(idp.claims(NOW, iss=iss, aud="web-client", sub="g-1"))
        login = verify(raw, "accounts.google.com", token, target=google)
        assert login.amr == "accounts.google.com:web-client:g-1"
        assert login.mapping_key == "accounts.google.com"
    other = idp.token(idp.claims(NOW, iss="accounts.google.com", aud="other-client"))
    assert refused(raw, "accounts.google.com", other, target=google) == (
        "Token is not from a supported provider of this identity pool."
    )


def test_apple_is_oidc_with_the_configured_client(idp: LocalIdentityProvider) -> None:
    raw = {"issuers": {"https://appleid.apple.com": {"jwks_url": idp.jwks_url}}}
    apple = pool(supported_login_providers={"appleid.apple.com": "com.example.app"})
    token = idp.token(
        idp.claims(NOW, iss="https://appleid.apple.com", aud="com.example.app", sub="a.1")
    )
    login = verify(raw, "appleid.apple.com", token, target=apple)
    assert (login.subject, login.amr) == ("a.1", "appleid.apple.com:com.example.app:a.1")
    bare = idp.token(idp.claims(NOW, iss="appleid.apple.com", aud="com.example.app"))
    assert "Issuer doesn't match" in refused(raw, "appleid.apple.com", bare, target=apple)


def test_plain_http_issuer_only_when_configured(idp: LocalIdentityProvider) -> None:
    host = idp.url.removeprefix("http://")
    arn = f"arn:aws:iam::123456789012:oidc-provider/{host}"
    local = replace(pool(), open_id_connect_provider_arns=(arn,))
    token = idp.token(idp.claims(NOW, iss=idp.url))
    registry = {"oidc_providers": {arn: {"client_ids": ["client-1"]}}}
    assert "Issuer doesn't match" in refused(registry, host, token, target=local)
    raw = {**registry, "issuers": {idp.url: {}}}
    assert verify(raw, host, token, target=local).amr == f"{arn}:OIDC:{token_sub(token)}"


def token_sub(token: str) -> str:
    from idpool.providers.oidc import decode_unverified

    jwt = decode_unverified(token)
    assert jwt is not None
    return str(jwt.claims["sub"])
