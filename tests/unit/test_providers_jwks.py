"""The key cache: rotation at the provider, refresh rate limits, TTL, files, outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from idpool.domain.errors import ExternalServiceException, NotAuthorizedException
from idpool.domain.records import Pool
from idpool.providers.config import load_providers_config
from idpool.providers.fetch import Fetcher
from idpool.providers.jwks_cache import JwksCache, KeySource, parse_jwks
from idpool.providers.registry import build_login_verifier
from tests.support.idp import LocalIdentityProvider

HOST = "rotating.test"
ARN = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[LocalIdentityProvider]:
    provider = LocalIdentityProvider(issuer=f"https://{HOST}")
    yield provider
    provider.close()


POOL = Pool(
    pool_id="us-east-1:00000000-0000-4000-8000-000000000003",
    account_id="123456789012",
    region="us-east-1",
    name="p",
    allow_unauthenticated=False,
    open_id_connect_provider_arns=(ARN,),
)


def settings(source: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "issuers": {f"https://{HOST}": source},
        "oidc_providers": {ARN: {"client_ids": ["client-1"]}},
        **extra,
    }


async def outcome(verifier: Any, token: str) -> str:
    try:
        login = await verifier.verify(POOL, HOST, token)
    except NotAuthorizedException as exc:
        return f"refused: {exc.message}"
    except ExternalServiceException:
        return "unreachable"
    return f"ok: {login.subject}"


def test_key_rotation_refreshes_once_and_accepts(idp: LocalIdentityProvider) -> None:
    clock = Clock()

    async def go() -> list[str]:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_url": idp.jwks_url}))
            verifier = build_login_verifier(cfg, http, clock, None)
            first = await outcome(verifier, idp.token(idp.claims(clock.now, sub="a")))
            idp.rotate()
            clock.now += 60  # past the refresh interval, well within the TTL
            rotated = await outcome(verifier, idp.token(idp.claims(clock.now, sub="b")))
            again = await outcome(verifier, idp.token(idp.claims(clock.now, sub="c")))
            return [first, rotated, again]

    assert asyncio.run(go()) == ["ok: a", "ok: b", "ok: c"]
    assert idp.jwks_fetches() == 2


def test_random_kids_cannot_force_refetches(idp: LocalIdentityProvider) -> None:
    from joserfc.jwk import RSAKey

    clock = Clock()
    stranger = RSAKey.generate_key(2048)

    async def go() -> list[str]:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_url": idp.jwks_url}))
            verifier = build_login_verifier(cfg, http, clock, None)
            results = []
            for i in range(20):
                clock.now += 1
                forged = idp.token(idp.claims(clock.now), key=stranger, kid=f"random-{i}")
                results.append(await outcome(verifier, forged))
            return results

    results = asyncio.run(go())
    assert set(results) == {"refused: Invalid login token. Couldn't verify signed token."}
    # One initial fetch plus at most one refresh per 30 s interval over 20 s.
    assert idp.jwks_fetches() <= 2


def test_ttl_expiry_refetches_and_old_key_stops_working(idp: LocalIdentityProvider) -> None:
    clock = Clock()

    async def go() -> list[str]:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_url": idp.jwks_url}, jwks_ttl_seconds=600))
            verifier = build_login_verifier(cfg, http, clock, None)
            old_kid = idp.current_rsa_kid()
            old_token = idp.token(idp.claims(clock.now, lifetime=7200), kid=old_kid)
            first = await outcome(verifier, old_token)
            idp.rotate()
            clock.now += 601
            return [first, await outcome(verifier, old_token)]

    first, after = asyncio.run(go())
    assert first.startswith("ok")
    assert after == "refused: Invalid login token. Couldn't verify signed token."


def test_discovery_document_leads_to_jwks(idp: LocalIdentityProvider) -> None:
    clock = Clock()

    async def go() -> str:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"discovery_url": idp.discovery_url}))
            verifier = build_login_verifier(cfg, http, clock, None)
            return await outcome(verifier, idp.token(idp.claims(clock.now, sub="d")))

    assert asyncio.run(go()) == "ok: d"
    assert "/.well-known/openid-configuration" in idp.server.requests


def test_jwks_file_works_offline(idp: LocalIdentityProvider, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(idp.jwks()))
    idp.down("closed")
    clock = Clock()

    async def go() -> str:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_file": str(path)}))
            verifier = build_login_verifier(cfg, http, clock, None)
            return await outcome(verifier, idp.token(idp.claims(clock.now, sub="f")))

    assert asyncio.run(go()) == "ok: f"
    assert idp.server.requests == []


def test_an_oversized_jwks_file_is_refused(idp: LocalIdentityProvider, tmp_path: Path) -> None:
    """Valid JSON padded past 512 KiB: refused (as unreachable keys), not parsed."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(idp.jwks()) + " " * (512 * 1024))
    clock = Clock()

    async def go() -> str:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_file": str(path)}))
            verifier = build_login_verifier(cfg, http, clock, None)
            return await outcome(verifier, idp.token(idp.claims(clock.now, sub="f")))

    assert asyncio.run(go()) == "unreachable"


def test_outage_backoff_then_recovery(idp: LocalIdentityProvider) -> None:
    clock = Clock()

    async def go() -> list[str]:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_url": idp.jwks_url}))
            verifier = build_login_verifier(cfg, http, clock, None)
            token = idp.token(idp.claims(clock.now, lifetime=7200, sub="r"))
            idp.down("503")
            results = [await outcome(verifier, token), await outcome(verifier, token)]
            idp.up()
            results.append(await outcome(verifier, token))  # still backing off
            clock.now += 6
            results.append(await outcome(verifier, token))
            return results

    assert asyncio.run(go()) == ["unreachable", "unreachable", "unreachable", "ok: r"]
    assert idp.jwks_fetches() == 2


def test_concurrent_unknown_kids_share_one_refresh(idp: LocalIdentityProvider) -> None:
    clock = Clock()

    async def go() -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            fetcher = Fetcher(http, operator_urls=[idp.jwks_url])
            cache = JwksCache(fetcher, clock, refresh_interval=30)
            source = KeySource(jwks_url=idp.jwks_url)
            assert await cache.candidates(source, idp.current_rsa_kid(), "RSA")
            kid = idp.rotate()
            clock.now += 31
            found = await asyncio.gather(*(cache.candidates(source, kid, "RSA") for _ in range(10)))
            assert all(len(keys) == 1 for keys in found)

    asyncio.run(go())
    assert idp.jwks_fetches() == 2


def test_parse_jwks_keeps_only_public_signature_keys(idp: LocalIdentityProvider) -> None:
    rsa = idp.keys[idp.current_rsa_kid()].as_dict(private=True)
    document = {
        "keys": [
            rsa,  # private members are stripped, the key is kept as public
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**idp.keys["ec-1"].as_dict(private=False), "use": "enc"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not a key",
        ]
    }
    keys = parse_jwks(document, "test")
    assert [k.kid for k in keys] == [idp.current_rsa_kid()]
    assert not keys[0].is_private
    with pytest.raises(ExternalServiceException):
        parse_jwks({"no": "keys"}, "test")


def test_stale_keys_bridge_an_outage_but_not_an_unknown_kid(idp: LocalIdentityProvider) -> None:
    clock = Clock()

    async def go() -> list[str]:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_url": idp.jwks_url}, jwks_ttl_seconds=600))
            verifier = build_login_verifier(cfg, http, clock, None)
            token = idp.token(idp.claims(clock.now, lifetime=7200, sub="s"))
            results = [await outcome(verifier, token)]
            idp.down("503")
            clock.now += 700  # past the TTL, within the grace of one more TTL
            results.append(await outcome(verifier, token))
            new_kid = idp.rotate()
            results.append(await outcome(verifier, idp.token(idp.claims(clock.now), kid=new_kid)))
            clock.now += 600  # past the grace
            results.append(await outcome(verifier, token))
            return results

    assert asyncio.run(go()) == ["ok: s", "ok: s", "unreachable", "unreachable"]


def test_a_jwks_nested_too_deep_is_unreachable_not_a_crash(idp: LocalIdentityProvider) -> None:
    """A provider answering JSON nested thousands deep gives ExternalServiceException (it used
    to escape the JSON decoder as RecursionError, a 500)."""
    idp.down("nested")
    clock = Clock()

    async def go() -> str:
        async with httpx.AsyncClient(timeout=2) as http:
            cfg = load_providers_config(settings({"jwks_url": idp.jwks_url}))
            verifier = build_login_verifier(cfg, http, clock, None)
            return await outcome(verifier, idp.token(idp.claims(clock.now, sub="n")))

    assert asyncio.run(go()) == "unreachable"
