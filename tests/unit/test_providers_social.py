"""Opaque-token providers (Facebook, Amazon, Twitter) against a local fake of their APIs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from idpool.domain.errors import ExternalServiceException, NotAuthorizedException
from idpool.domain.records import Pool, VerifiedLogin
from idpool.providers.config import load_providers_config
from idpool.providers.registry import build_login_verifier
from idpool.providers.social import oauth1_signature
from tests.support.idp import FakeSocialProvider

NOW = 1_700_000_000

POOL = Pool(
    pool_id="us-east-1:00000000-0000-4000-8000-000000000004",
    account_id="123456789012",
    region="us-east-1",
    name="p",
    allow_unauthenticated=False,
    supported_login_providers={
        "graph.facebook.com": "1111",
        "www.amazon.com": "amzn1.application-oa2-client.abc",
        "api.twitter.com": "consumer-key;consumer-secret",
    },
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSocialProvider]:
    provider = FakeSocialProvider()
    provider.facebook["fb-good"] = ("1111", "10150000001")
    provider.facebook["fb-other-app"] = ("2222", "10150000002")
    provider.amazon["amz-good"] = ("amzn1.application-oa2-client.abc", "amzn1.account.XYZ")
    provider.amazon["amz-other"] = ("amzn1.application-oa2-client.zzz", "amzn1.account.QQQ")
    provider.twitter["tw-token"] = "783214"
    yield provider
    provider.close()


@pytest.fixture(autouse=True)
def _up(fake: FakeSocialProvider) -> None:
    fake.mode = "up"


def verify(fake: FakeSocialProvider, key: str, token: str) -> VerifiedLogin:
    raw = {"social": {"facebook": fake.url, "amazon": fake.url, "twitter": fake.url}}

    async def go() -> VerifiedLogin:
        async with httpx.AsyncClient(timeout=2) as http:
            verifier = build_login_verifier(load_providers_config(raw), http, lambda: NOW, None)
            return await verifier.verify(POOL, key, token)

    return asyncio.run(go())


def refused(fake: FakeSocialProvider, key: str, token: str) -> str:
    with pytest.raises(NotAuthorizedException) as info:
        verify(fake, key, token)
    return info.value.message


def test_facebook_token_checked_with_graph(fake: FakeSocialProvider) -> None:
    login = verify(fake, "graph.facebook.com", "fb-good")
    assert login.subject == "10150000001"
    assert login.amr == "graph.facebook.com:1111:10150000001"
    assert login.mapping_key == "graph.facebook.com"
    assert login.claims == {"iss": "graph.facebook.com", "aud": "1111", "sub": "10150000001"}


def test_facebook_token_of_another_app_refused(fake: FakeSocialProvider) -> None:
    assert refused(fake, "graph.facebook.com", "fb-other-app") == (
        "Token is not from a supported provider of this identity pool."
    )
    assert refused(fake, "graph.facebook.com", "fb-unknown").startswith("Invalid login token.")


def test_amazon_tokeninfo(fake: FakeSocialProvider) -> None:
    login = verify(fake, "www.amazon.com", "amz-good")
    assert login.subject == "amzn1.account.XYZ"
    assert login.amr == "www.amazon.com:amzn1.application-oa2-client.abc:amzn1.account.XYZ"
    assert login.claims["user_id"] == "amzn1.account.XYZ"
    assert refused(fake, "www.amazon.com", "amz-other") == (
        "Token is not from a supported provider of this identity pool."
    )
    assert refused(fake, "www.amazon.com", "amz-bad").startswith("Invalid login token.")


def test_twitter_verify_credentials_with_oauth1(fake: FakeSocialProvider) -> None:
    login = verify(fake, "api.twitter.com", "tw-token;tw-secret")
    assert login.subject == "783214"
    assert login.amr == "api.twitter.com:consumer-key:783214"
    header = fake.authorizations[-1]
    assert header.startswith("OAuth ")
    assert 'oauth_consumer_key="consumer-key"' in header
    assert 'oauth_signature_method="HMAC-SHA1"' in header
    assert refused(fake, "api.twitter.com", "tw-token-without-secret").startswith(
        "Invalid login token."
    )
    assert refused(fake, "api.twitter.com", "unknown;secret").startswith("Invalid login token.")


@pytest.mark.parametrize("mode", ["503", "closed", "nested"])
def test_provider_outage_is_external_service_error(fake: FakeSocialProvider, mode: str) -> None:
    fake.mode = mode
    for key, token in (
        ("graph.facebook.com", "fb-good"),
        ("www.amazon.com", "amz-good"),
        ("api.twitter.com", "tw-token;tw-secret"),
    ):
        with pytest.raises(ExternalServiceException):
            verify(fake, key, token)


def test_oauth1_signature_matches_twitters_documented_example() -> None:
    params: dict[str, Any] = {
        "status": "Hello Ladies + Gentlemen, a signed OAuth request!",
        "include_entities": "true",
        "oauth_consumer_key": "xvz1evFS4wEEPTGEFPHBog",
        "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": "1318622958",
        "oauth_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        "oauth_version": "1.0",
    }
    signature = oauth1_signature(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json",
        params,
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    )
    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
