"""Routing by Logins key, idpool's own tokens, trust mode and the configuration loader."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idpool.domain.errors import (
    LOGINS_DONT_MATCH,
    InvalidParameterException,
    NotAuthorizedException,
)
from idpool.domain.records import CognitoProvider, Pool, VerifiedLogin
from idpool.providers.config import (
    ProvidersConfig,
    ProvidersConfigError,
    load_providers_config,
)
from idpool.providers.registry import build_login_verifier
from idpool.providers.targets import Kind, resolve
from tests.support.idp import b64json

UP_KEY = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool1"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/issuer.example.com/tenant"
SAML_ARN = "arn:aws:iam::123456789012:saml-provider/Corp"

POOL = Pool(
    pool_id="eu-west-1:00000000-0000-4000-8000-000000000005",
    account_id="123456789012",
    region="eu-west-1",
    name="p",
    allow_unauthenticated=False,
    supported_login_providers={
        "graph.facebook.com": "1111",
        "accounts.google.com": "web-client",
        "api.twitter.com": "ck;cs",
    },
    developer_provider_name="login.example.app",
    open_id_connect_provider_arns=(OIDC_ARN,),
    cognito_identity_providers=(CognitoProvider(UP_KEY, "c1"),),
    saml_provider_arns=(SAML_ARN,),
)


def unsigned_jwt(claims: dict[str, Any]) -> str:
    return f"{b64json({'alg': 'RS256', 'kid': 'x'})}.{b64json(claims)}.c2ln"


class OwnTokens:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        self.seen.append(token)
        return VerifiedLogin(provider=provider, subject="eu-west-1:identity")


def verify(
    key: str, token: str, *, trust: bool = False, own: OwnTokens | None = None
) -> VerifiedLogin:
    async def go() -> VerifiedLogin:
        # Never the internet: the user pool's keys come from an operator URL answered by a
        # mock, which finds an empty JWKS.
        transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"keys": []}))
        async with httpx.AsyncClient(transport=transport) as http:
            issuers = {f"https://{UP_KEY}": {"jwks_url": "https://keys.test/jwks.json"}}
            cfg = load_providers_config({"trust_mode": trust, "issuers": issuers})
            verifier = build_login_verifier(cfg, http, lambda: 1_700_000_000, own)
            return await verifier.verify(POOL, key, token)

    return asyncio.run(go())


def test_routes_each_configured_key_to_its_kind() -> None:
    cfg = ProvidersConfig()
    kinds = {
        UP_KEY: Kind.USER_POOL,
        "issuer.example.com/tenant": Kind.OIDC,
        SAML_ARN: Kind.SAML,
        "graph.facebook.com": Kind.FACEBOOK,
        "accounts.google.com": Kind.GOOGLE,
        "api.twitter.com": Kind.TWITTER,
    }
    for key, kind in kinds.items():
        assert resolve(POOL, key, cfg).kind is kind
    google = resolve(POOL, "accounts.google.com", cfg)
    assert google.issuers == ("https://accounts.google.com", "accounts.google.com")
    assert google.audiences == ("web-client",)
    twitter = resolve(POOL, "api.twitter.com", cfg)
    assert (twitter.audiences, twitter.app_secret) == (("ck",), "cs")


@pytest.mark.parametrize(
    "key",
    [
        "www.amazon.com",  # public provider the pool does not support
        "issuer.example.com",  # OIDC issuer without the configured path
        "https://issuer.example.com/tenant",
        "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other",
        "arn:aws:iam::123456789012:saml-provider/Other",
        "cognito-identity.amazonaws.com",  # own tokens, but no verifier for them was given
    ],
)
def test_unsupported_keys_do_not_match(key: str) -> None:
    with pytest.raises(NotAuthorizedException) as info:
        verify(key, "token")
    assert info.value.message == LOGINS_DONT_MATCH


def test_developer_provider_is_not_a_public_provider() -> None:
    """Developer user ids only arrive through the signed developer call; AWS's answer to one
    in a public Logins map is InvalidParameterException (docs/compatibility.md)."""
    with pytest.raises(InvalidParameterException) as info:
        verify("login.example.app", "user-1")
    assert info.value.message == "Please provide a valid public provider."


def test_own_tokens_are_delegated() -> None:
    own = OwnTokens()
    login = verify("cognito-identity.amazonaws.com", "our-token", own=own)
    assert login.subject == "eu-west-1:identity"
    assert own.seen == ["our-token"]


def test_saml_without_configured_metadata_cannot_prove_anything() -> None:
    with pytest.raises(NotAuthorizedException):
        verify(SAML_ARN, "PHNhbWw+")


def test_trust_mode_decodes_claims_without_signature() -> None:
    token = unsigned_jwt({"iss": "https://anything", "sub": "dev-user", "aud": "c1", "x": 1})
    login = verify(UP_KEY, token, trust=True)
    assert login.subject == "dev-user"
    assert login.claims["x"] == 1
    assert login.amr == f"{UP_KEY}:CognitoSignIn:dev-user"
    assert login.mapping_key == f"{UP_KEY}:c1"
    oidc = verify("issuer.example.com/tenant", token, trust=True)
    assert (oidc.amr, oidc.mapping_key) == (f"{OIDC_ARN}:OIDC:dev-user", OIDC_ARN)


def test_trust_mode_opaque_token_is_its_own_subject() -> None:
    login = verify("graph.facebook.com", "EAAB-opaque", trust=True)
    assert login.subject == "EAAB-opaque"
    assert login.amr == "graph.facebook.com:1111:EAAB-opaque"
    # The claims real verification gives Facebook, so Rules on sub/aud can match offline.
    assert login.claims == {"sub": "EAAB-opaque", "aud": "1111", "iss": "graph.facebook.com"}
    twitter = verify("api.twitter.com", "tok;secret", trust=True)
    assert twitter.claims == {"sub": "tok;secret", "aud": "ck", "iss": "api.twitter.com"}
    saml = verify(SAML_ARN, "PHNhbWw+", trust=True)
    assert saml.mapping_key == SAML_ARN
    assert "iss" not in saml.claims


def test_trust_mode_reads_json_tokens() -> None:
    token = json.dumps({"sub": "fb-user-7", "email": "u@example.test", "groups": ["a", "b"]})
    login = verify("graph.facebook.com", token, trust=True)
    assert login.subject == "fb-user-7"
    assert login.claims == {
        "sub": "fb-user-7",
        "email": "u@example.test",
        "groups": ["a", "b"],
        "aud": "1111",
        "iss": "graph.facebook.com",
    }
    assert login.amr == "graph.facebook.com:1111:fb-user-7"
    # A JSON token's own aud wins over the pool's app id; a numeric sub is a subject too.
    other = verify("graph.facebook.com", json.dumps({"sub": 42, "aud": "2222"}), trust=True)
    assert (other.subject, other.claims["aud"], other.amr) == (
        "42",
        "2222",
        "graph.facebook.com:2222:42",
    )


def test_trust_mode_reads_unsigned_jwts_under_social_keys() -> None:
    token = unsigned_jwt({"sub": "fb-jwt", "role": "admin"})
    login = verify("graph.facebook.com", token, trust=True)
    assert (login.subject, login.claims["role"], login.claims["aud"]) == ("fb-jwt", "admin", "1111")


@pytest.mark.parametrize("token", ["{not json", "[1, 2]", '"a string"', "{}", '{"sub": ""}'])
def test_trust_mode_without_a_usable_sub_uses_the_token(token: str) -> None:
    login = verify("graph.facebook.com", token, trust=True)
    assert login.subject == token


def test_trust_mode_still_refuses_unsupported_keys() -> None:
    with pytest.raises(NotAuthorizedException):
        verify("www.amazon.com", unsigned_jwt({"sub": "x"}), trust=True)
    with pytest.raises(InvalidParameterException):
        verify("login.example.app", "dev-user", trust=True)


def test_trust_mode_is_off_by_default() -> None:
    assert load_providers_config({}).trust_mode is False
    with pytest.raises(NotAuthorizedException) as info:
        claims = {"iss": f"https://{UP_KEY}", "sub": "x", "aud": "c1", "exp": 4_000_000_000}
        verify(UP_KEY, unsigned_jwt(claims))
    assert info.value.message == "Invalid login token. Couldn't verify signed token."


def test_deeply_nested_tokens_are_refused_not_crashed() -> None:
    """A Logins token may be 50,000 characters: JSON nested thousands deep must not escape
    the JSON decoder as RecursionError (an unauthenticated 500)."""
    deep = '{"a":' + "[" * 15000 + "]" * 15000 + "}"
    payload = base64.urlsafe_b64encode(deep.encode()).decode().rstrip("=")
    jwt = f"{b64json({'alg': 'RS256'})}.{payload}.x"
    assert len(jwt) <= 50000
    with pytest.raises(NotAuthorizedException) as info:
        verify(UP_KEY, jwt)
    assert info.value.message == "Invalid login token. Not a Cognito token."
    trusted = verify("graph.facebook.com", deep, trust=True)
    assert trusted.subject == deep
    assert verify(UP_KEY, jwt, trust=True).subject == jwt


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.hex()))
def test_garbage_tokens_only_ever_give_not_authorized(token: str) -> None:
    async def go() -> None:
        cfg = ProvidersConfig()
        # No HTTP is reachable here: every token must fail before any key fetch.
        async with httpx.AsyncClient(transport=httpx.MockTransport(_no_network)) as http:
            verifier = build_login_verifier(cfg, http, lambda: 0.0, None)
            for key in (UP_KEY, "issuer.example.com/tenant", "accounts.google.com"):
                with pytest.raises(NotAuthorizedException):
                    await verifier.verify(POOL, key, token)

    asyncio.run(go())


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected fetch of {request.url}")


# --- configuration -------------------------------------------------------------------------


def test_load_full_configuration(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": []}))
    cfg = load_providers_config(
        {
            "trust_mode": False,
            "leeway_seconds": 30,
            "issuers": {
                "https://kc.local/realms/dev/": {"jwks_file": str(jwks), "client_ids": "app"},
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X": {
                    "jwks_url": "http://127.0.0.1:9/jwks.json"
                },
            },
            "oidc_providers": {
                OIDC_ARN: {"client_ids": ["a", "b"], "thumbprints": ["A" * 40]},
            },
            "social": {"facebook": "http://127.0.0.1:9999/"},
        }
    )
    assert cfg.leeway_seconds == 30
    assert cfg.issuers["https://kc.local/realms/dev"].client_ids == ("app",)
    assert cfg.oidc_providers[OIDC_ARN].url == "https://issuer.example.com/tenant"
    assert cfg.oidc_providers[OIDC_ARN].thumbprints == ("a" * 40,)
    assert cfg.social.facebook_url == "http://127.0.0.1:9999"
    assert cfg.social.amazon_url == "https://api.amazon.com"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"trust_mode": "yes"}, "providers.trust_mode"),
        ({"surprise": 1}, "unknown key 'surprise'"),
        ({"issuers": {"kc.local": {}}}, "must be an http(s) URL"),
        (
            {"issuers": {"https://a": {"jwks_url": "http://x", "discovery_url": "http://y"}}},
            "give only one of",
        ),
        ({"issuers": {"https://a": {"jwks_file": "/no/such/file"}}}, "no such file"),
        ({"oidc_providers": {"arn:aws:iam::1:oidc-provider/x": {}}}, "not an IAM OIDC"),
        ({"oidc_providers": {OIDC_ARN: {}}}, "at least one client id"),
        (
            {"oidc_providers": {OIDC_ARN: {"client_ids": ["a"], "url": "https://else.com"}}},
            "does not match",
        ),
        ({"oidc_providers": {OIDC_ARN: {"client_ids": ["a"], "thumbprints": ["zz"]}}}, "40 hex"),
        ({"social": {"myspace": "http://x"}}, "unknown key 'myspace'"),
        ({"leeway_seconds": -1}, "providers.leeway_seconds"),
        ({"saml_providers": {SAML_ARN: {}}}, "give exactly one of"),
        ({"saml_providers": {SAML_ARN: {"certificate": "nope"}}}, "not an X.509 certificate"),
    ],
)
def test_configuration_errors_name_the_entry(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ProvidersConfigError) as info:
        load_providers_config(raw)
    assert message in str(info.value)
