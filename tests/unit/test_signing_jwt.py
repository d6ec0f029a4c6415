"""Tokens idpool signs, checked by JOSE libraries that know nothing about idpool.

PyJWT is given only the discovery document's URL (served on loopback) and finds the JWKS from
it, as any relying party would; joserfc is given only the JWKS JSON. Our own verifier for
`cognito-identity.amazonaws.com` logins is tested against the same tokens.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet, KeySetSerialization

from idpool.domain.errors import NotAuthorizedException
from idpool.domain.records import Pool, VerifiedLogin
from idpool.service.tokens import amr_for, build_claims
from idpool.signing.discovery import openid_configuration
from idpool.signing.jwt import (
    JwtTokenSigner,
    OwnTokenVerifier,
    sign_compact,
    signing_input,
)
from idpool.signing.keyring import Keyring, minimum_overlap
from idpool.signing.memory_store import MemoryKeyStore

POOL = Pool(
    pool_id="us-east-1:bbbbbbbb-0000-4000-8000-000000000002",
    account_id="123456789012",
    region="us-east-1",
    name="tokens",
    allow_unauthenticated=True,
)
OTHER_POOL = Pool(
    pool_id="us-east-1:cccccccc-0000-4000-8000-000000000003",
    account_id="123456789012",
    region="us-east-1",
    name="other",
    allow_unauthenticated=True,
)
IDENTITY = "us-east-1:aaaaaaaa-0000-4000-8000-000000000001"
POOL_ARN = (
    "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/"
    "us-east-1:bbbbbbbb-0000-4000-8000-000000000002"
)
DEV = VerifiedLogin("login.example.app", "user-42", amr=f"login.example.app:{POOL.pool_id}:user-42")
UP = VerifiedLogin(
    "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc",
    "up-sub",
    amr="cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc:CognitoSignIn:up-sub",
)


class Clock:
    """Wall time by default (PyJWT checks `exp` against the real clock); movable."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Issuer:
    """A loopback web server publishing a keyring's discovery document and JWKS."""

    def __init__(self) -> None:
        self.keyring: Keyring | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                assert outer.keyring is not None
                documents = {
                    "/.well-known/openid-configuration": openid_configuration(
                        outer.url, f"{outer.url}/.well-known/jwks_uri"
                    ),
                    "/.well-known/jwks_uri": outer.keyring.jwks(),
                }
                body = json.dumps(documents[self.path]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture(scope="module")
def issuer_server() -> Iterator[Issuer]:
    issuer = Issuer()
    yield issuer
    issuer.server.shutdown()
    issuer.server.server_close()


@pytest.fixture
def setup(issuer_server: Issuer) -> tuple[Keyring, JwtTokenSigner, Clock, MemoryKeyStore]:
    clock, store = Clock(), MemoryKeyStore()
    keyring = asyncio.run(Keyring.open(store, "secret", clock, "us-east-1"))
    issuer_server.keyring = keyring
    return keyring, JwtTokenSigner(keyring, issuer_server.url), clock, store


def relying_party_verify(issuer_url: str, token: str, audience: str) -> dict[str, Any]:
    """What any OIDC relying party does: discovery → jwks_uri → key by kid → checks."""
    with urllib.request.urlopen(f"{issuer_url}/.well-known/openid-configuration") as response:
        config = json.load(response)
    assert config["issuer"] == issuer_url
    algorithms = config["id_token_signing_alg_values_supported"]
    discovery = pyjwt.PyJWKClient(config["jwks_uri"], cache_keys=False, cache_jwk_set=False)
    key = discovery.get_signing_key_from_jwt(token)
    return dict(
        pyjwt.decode(
            token,
            key.key,
            algorithms=algorithms,
            audience=audience,
            issuer=config["issuer"],
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    )


def joserfc_verify(jwks: dict[str, Any], token: str) -> dict[str, Any]:
    decoded = joserfc_jwt.decode(
        token, KeySet.import_key_set(cast(KeySetSerialization, jwks)), algorithms=["RS512"]
    )
    joserfc_jwt.JWTClaimsRegistry(exp={"essential": True}).validate(decoded.claims)
    return dict(decoded.claims)


def header_of(token: str) -> dict[str, Any]:
    head = token.split(".", maxsplit=1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def sign(
    signer: JwtTokenSigner,
    clock: Clock,
    amr: list[str],
    lifetime: int = 600,
    tags: dict[str, str] | None = None,
    pool: Pool = POOL,
) -> str:
    claims = build_claims(
        issuer=signer.issuer,
        pool=pool,
        identity_id=IDENTITY,
        amr=amr,
        issued_at=clock(),
        lifetime=lifetime,
        principal_tags=tags,
    )
    return asyncio.run(signer.sign(claims))


# ------------------------------------------------------------------------------------ claims


def test_amr_forms() -> None:
    assert amr_for(False, [DEV]) == ["unauthenticated"]
    assert amr_for(True, [DEV]) == ["authenticated", DEV.provider, DEV.amr]
    assert amr_for(True, [UP, DEV]) == [
        "authenticated",
        UP.provider,
        UP.amr,
        DEV.provider,
        DEV.amr,
    ]
    assert amr_for(True, [VerifiedLogin("graph.facebook.com", "1")]) == [
        "authenticated",
        "graph.facebook.com",
    ]


def test_claims_layout() -> None:
    claims = build_claims(
        issuer="https://idp.example",
        pool=POOL,
        identity_id=IDENTITY,
        amr=["unauthenticated"],
        issued_at=1_700_000_000.7,
        lifetime=600,
    )
    assert claims == {
        "sub": IDENTITY,
        "aud": POOL.pool_id,
        "amr": ["unauthenticated"],
        "iss": "https://idp.example",
        "https://cognito-identity.amazonaws.com/identity-pool-arn": POOL_ARN,
        "exp": 1_700_000_600,
        "iat": 1_700_000_000,
    }
    tagged = build_claims(
        issuer="i",
        pool=POOL,
        identity_id=IDENTITY,
        amr=["authenticated"],
        issued_at=0,
        lifetime=900,
        principal_tags={"team": "blue", "env": "dev"},
    )
    assert tagged["https://aws.amazon.com/tags"] == {
        "principal_tags": {"team": ["blue"], "env": ["dev"]}
    }


@pytest.mark.parametrize("lifetime", [0, -1, 86401])
def test_lifetime_bounds(lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        build_claims(
            issuer="i", pool=POOL, identity_id=IDENTITY, amr=[], issued_at=0, lifetime=lifetime
        )


# ----------------------------------------------------------------------- signed, then verified


def test_header_is_exactly_kid_typ_alg(setup: Any) -> None:
    keyring, signer, clock, _ = setup
    token = sign(signer, clock, ["unauthenticated"])
    raw = token.split(".")[0]
    assert "=" not in token
    assert json.loads(base64.urlsafe_b64decode(raw + "==")) == {
        "kid": keyring.active.kid,
        "typ": "JWS",
        "alg": "RS512",
    }
    assert list(header_of(token)) == ["kid", "typ", "alg"]


@pytest.mark.parametrize(
    "amr",
    [
        ["unauthenticated"],
        amr_for(True, [DEV]),
        amr_for(True, [UP, DEV]),
        [
            "authenticated",
            "issuer.example.com",
            "arn:aws:iam::123456789012:oidc-provider/issuer.example.com:OIDC:sub-1",
        ],
    ],
)
def test_every_amr_form_verifies_with_independent_libraries(
    setup: Any, issuer_server: Issuer, amr: list[str]
) -> None:
    keyring, signer, clock, _ = setup
    token = sign(signer, clock, amr, tags={"team": "blue"})
    claims = relying_party_verify(issuer_server.url, token, POOL.pool_id)
    assert claims["amr"] == amr and claims["sub"] == IDENTITY
    assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    assert joserfc_verify(keyring.jwks(), token) == claims


@pytest.mark.parametrize("lifetime", [1, 600, 900, 86400])
def test_lifetimes(setup: Any, issuer_server: Issuer, lifetime: int) -> None:
    _, signer, clock, _ = setup
    token = sign(signer, clock, ["unauthenticated"], lifetime=lifetime)
    claims = relying_party_verify(issuer_server.url, token, POOL.pool_id)
    assert claims["exp"] - claims["iat"] == lifetime
    assert abs(claims["iat"] - time.time()) < 5


def test_expired_token_is_refused_by_the_relying_party(setup: Any, issuer_server: Issuer) -> None:
    _, signer, clock, _ = setup
    clock.offset = -700
    token = sign(signer, clock, ["unauthenticated"], lifetime=600)
    with pytest.raises(pyjwt.ExpiredSignatureError):
        relying_party_verify(issuer_server.url, token, POOL.pool_id)


def test_rotation_before_and_after(setup: Any, issuer_server: Issuer) -> None:
    keyring, signer, clock, _ = setup
    before = sign(signer, clock, ["unauthenticated"], lifetime=86400)
    asyncio.run(keyring.rotate())
    after = sign(signer, clock, ["unauthenticated"], lifetime=86400)
    assert header_of(before)["kid"] != header_of(after)["kid"] == keyring.active.kid
    for token in (before, after):
        relying_party_verify(issuer_server.url, token, POOL.pool_id)
        joserfc_verify(keyring.jwks(), token)

    # Once every token of the old key has expired, its key leaves the JWKS.
    clock.offset = minimum_overlap(60.0) + 1
    assert [k["kid"] for k in keyring.jwks()["keys"]] == [keyring.active.kid]
    with pytest.raises(pyjwt.PyJWKClientError):
        relying_party_verify(issuer_server.url, before, POOL.pool_id)


def test_concurrent_signing_and_inline_mode(setup: Any) -> None:
    keyring, signer, clock, _ = setup
    claims = build_claims(
        issuer=signer.issuer,
        pool=POOL,
        identity_id=IDENTITY,
        amr=["unauthenticated"],
        issued_at=clock(),
        lifetime=600,
    )

    async def many() -> list[str]:
        return list(await asyncio.gather(*(signer.sign(claims) for _ in range(20))))

    tokens = asyncio.run(many())
    inline = JwtTokenSigner(keyring, signer.issuer, offload=False)
    tokens.append(asyncio.run(inline.sign(claims)))
    # PKCS#1 v1.5 is deterministic: same key and claims, same token.
    assert len(set(tokens)) == 1
    assert joserfc_verify(keyring.jwks(), tokens[0])["sub"] == IDENTITY


# -------------------------------------------------------------------- our own tokens as logins


def verify_own(keyring: Keyring, issuer: str, clock: Clock, token: str, pool: Pool = POOL) -> Any:
    return asyncio.run(
        OwnTokenVerifier(keyring, issuer, clock).verify(
            pool, "cognito-identity.amazonaws.com", token
        )
    )


def refused(keyring: Keyring, issuer: str, clock: Clock, token: str, pool: Pool = POOL) -> str:
    with pytest.raises(NotAuthorizedException) as exc:
        verify_own(keyring, issuer, clock, token, pool)
    return exc.value.message


def test_own_token_is_accepted(setup: Any) -> None:
    keyring, signer, clock, _ = setup
    amr = amr_for(True, [DEV])
    login = verify_own(keyring, signer.issuer, clock, sign(signer, clock, amr))
    assert login.provider == "cognito-identity.amazonaws.com"
    assert login.subject == IDENTITY and login.mapping_key is None
    assert login.claims["amr"] == amr and login.claims["aud"] == POOL.pool_id


def test_own_token_refusals(setup: Any) -> None:
    keyring, signer, clock, _ = setup
    amr = amr_for(True, [DEV])
    token = sign(signer, clock, amr)

    assert refused(keyring, signer.issuer, clock, token, OTHER_POOL) == (
        "Invalid login token. Incorrect token audience."
    )
    assert refused(keyring, "https://someone.else", clock, token) == (
        "Invalid login token. Issuer doesn't match providerName"
    )
    exp = int(clock()) + 600
    clock.offset = 600 + 60
    assert refused(keyring, signer.issuer, clock, token) == (
        f"Invalid login token. Token expired: {int(clock())} >= {exp}"
    )
    clock.offset = 600 + 59  # within the leeway
    assert verify_own(keyring, signer.issuer, clock, token).subject == IDENTITY
    clock.offset = 0

    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "us-east-1:dddddddd-0000-4000-8000-000000000004"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert refused(keyring, signer.issuer, clock, f"{head}.{forged}.{signature}") == (
        "Invalid login token. Couldn't verify signed token."
    )

    guest = sign(signer, clock, ["unauthenticated"])
    assert refused(keyring, signer.issuer, clock, guest) == (
        "Invalid login token. Not an authenticated token."
    )

    deep = base64.urlsafe_b64encode(b"[" * 40000).decode()
    assert refused(keyring, signer.issuer, clock, f"{head}.{deep}.{signature}") == (
        "Invalid login token. Not a valid OpenId Connect identity token."
    )


def test_foreign_key_with_our_kid_is_refused(setup: Any) -> None:
    keyring, signer, clock, _ = setup
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = build_claims(
        issuer=signer.issuer,
        pool=POOL,
        identity_id=IDENTITY,
        amr=amr_for(True, [DEV]),
        issued_at=clock(),
        lifetime=600,
    )
    token = sign_compact(stranger, keyring.active.kid, claims)
    assert refused(keyring, signer.issuer, clock, token) == (
        "Invalid login token. Couldn't verify signed token."
    )
    unknown = sign_compact(stranger, "us-east-1-unknown", claims)
    assert refused(keyring, signer.issuer, clock, unknown) == (
        "Invalid login token. Couldn't verify signed token."
    )


def test_unsigned_and_other_algorithms_are_refused(setup: Any) -> None:
    keyring, signer, clock, _ = setup
    token = sign(signer, clock, amr_for(True, [DEV]))
    _, payload, signature = token.split(".")
    for header in ({"alg": "none", "typ": "JWT"}, {"kid": keyring.active.kid, "alg": "RS256"}):
        head = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
        for sig in (signature, "x"):
            assert refused(keyring, signer.issuer, clock, f"{head}.{payload}.{sig}") == (
                "Invalid login token. Couldn't verify signed token."
            )


def test_token_signed_by_a_newer_key_of_another_replica(setup: Any) -> None:
    keyring, signer, clock, store = setup
    other = asyncio.run(Keyring.open(store, "secret", clock, "us-east-1"))
    asyncio.run(other.rotate())
    token = sign(JwtTokenSigner(other, signer.issuer), clock, amr_for(True, [DEV]))
    assert verify_own(keyring, signer.issuer, clock, token).subject == IDENTITY


@pytest.fixture(scope="module")
def any_keyring() -> Keyring:
    return asyncio.run(Keyring.open(MemoryKeyStore(), "secret", time.time, "us-east-1"))


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(st.text(alphabet="abcdefgAZ09-_=.", max_size=40), min_size=3, max_size=3).map(
            ".".join
        ),
        st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5)).map(
            lambda d: ".".join(
                base64.urlsafe_b64encode(json.dumps(d).encode()).decode() for _ in range(3)
            )
        ),
    )
)
def test_garbage_is_always_a_not_authorized_error(any_keyring: Keyring, garbage: str) -> None:
    keyring = any_keyring
    with pytest.raises(NotAuthorizedException, match=r"^Invalid login token\. "):
        asyncio.run(OwnTokenVerifier(keyring, "https://i", time.time).verify(POOL, "k", garbage))


@settings(max_examples=200, deadline=None)
@given(
    identity=st.text(min_size=1, max_size=40),
    tags=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=3),
)
def test_the_one_pass_encoding_is_the_standard_json_of_the_claims(
    identity: str, tags: dict[str, str]
) -> None:
    """The signing input is base64url of exactly json.dumps' compact, non-ASCII-as-UTF-8 text,
    in Cognito's claim order, whatever the identity id or tag values hold."""
    claims = build_claims(
        issuer="https://issuer.example/é",
        pool=POOL,
        identity_id=identity,
        amr=["authenticated", "graph.facebook.com"],
        issued_at=1_700_000_000.9,
        lifetime=600,
        principal_tags=tags,
    )
    head, payload = signing_input("us-east-1-kid", claims).split(b".")
    expected = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    assert base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)) == expected
    header = base64.urlsafe_b64decode(head + b"=" * (-len(head) % 4))
    assert header == b'{"kid":"us-east-1-kid","typ":"JWS","alg":"RS512"}'
    assert list(json.loads(expected))[:7] == [
        "sub",
        "aud",
        "amr",
        "iss",
        "https://cognito-identity.amazonaws.com/identity-pool-arn",
        "exp",
        "iat",
    ]
