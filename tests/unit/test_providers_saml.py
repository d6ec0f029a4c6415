"""SAML logins: signature pinned to the metadata certificate, audience, time, attributes."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest

from idpool.domain.errors import NotAuthorizedException
from idpool.domain.records import Pool, VerifiedLogin
from idpool.providers.config import build_login_verifier, load_providers_config
from tests.support.idp import SamlIdentityProvider

NOW = 1_700_000_000
ARN = "arn:aws:iam::123456789012:saml-provider/Corp"
ROLE = "https://aws.amazon.com/SAML/Attributes/Role"
ROLE_VALUE = f"arn:aws:iam::123456789012:role/Dev,{ARN}"

POOL = Pool(
    pool_id="us-east-1:00000000-0000-4000-8000-000000000006",
    account_id="123456789012",
    region="us-east-1",
    name="p",
    allow_unauthenticated=False,
    saml_provider_arns=(ARN,),
)


@pytest.fixture(scope="module")
def idp() -> SamlIdentityProvider:
    return SamlIdentityProvider()


def verify(source: dict[str, Any], token: str, *, now: float = NOW) -> VerifiedLogin:
    async def go() -> VerifiedLogin:
        async with httpx.AsyncClient() as http:
            cfg = load_providers_config({"saml_providers": {ARN: source}})
            verifier = build_login_verifier(cfg, http, lambda: now, None)
            return await verifier.verify(POOL, ARN, token)

    return asyncio.run(go())


def refused(idp: SamlIdentityProvider, token: str, **kw: Any) -> str:
    with pytest.raises(NotAuthorizedException) as info:
        verify({"metadata": idp.metadata()}, token, **kw)
    return info.value.message


@pytest.mark.parametrize("sign", ["assertion", "response"])
def test_signed_response_accepted(idp: SamlIdentityProvider, sign: str) -> None:
    token = idp.response(
        "alice@example.com",
        now=NOW,
        sign=sign,
        attributes={ROLE: [ROLE_VALUE], "department": ["eng"]},
    )
    login = verify({"metadata": idp.metadata()}, token)
    assert login.subject == "alice@example.com"
    assert login.amr == f"{ARN}:SAML:alice@example.com"
    assert login.mapping_key == ARN
    assert login.claims[ROLE] == [ROLE_VALUE]
    assert login.claims["department"] == "eng"


def test_certificate_instead_of_metadata(idp: SamlIdentityProvider) -> None:
    token = idp.response("bob", now=NOW)
    assert verify({"certificate": idp.certificate_pem}, token).subject == "bob"


def test_unsigned_response_refused(idp: SamlIdentityProvider) -> None:
    token = idp.response("mallory", now=NOW, sign="none")
    assert refused(idp, token) == "Invalid login token. Couldn't verify signed token."


def test_signed_by_another_idp_refused(idp: SamlIdentityProvider) -> None:
    other = SamlIdentityProvider()
    token = other.response("mallory", now=NOW)
    assert refused(idp, token) == "Invalid login token. Couldn't verify signed token."


def test_tampered_name_id_refused(idp: SamlIdentityProvider) -> None:
    xml = base64.b64decode(idp.response("alice", now=NOW)).decode()
    forged = base64.b64encode(xml.replace(">alice<", ">admin<").encode()).decode()
    assert refused(idp, forged) == "Invalid login token. Couldn't verify signed token."


def test_signature_wrapping_reads_only_the_signed_assertion(idp: SamlIdentityProvider) -> None:
    """An unsigned evil assertion placed before the signed one is never read."""
    xml = base64.b64decode(idp.response("alice", now=NOW)).decode()
    evil = idp.assertion_xml("admin", now=NOW, assertion_id="_evil")
    wrapped = xml.replace("</samlp:Status>", "</samlp:Status>" + evil, 1)
    token = base64.b64encode(wrapped.encode()).decode()
    try:
        login = verify({"metadata": idp.metadata()}, token)
    except NotAuthorizedException:
        return
    assert login.subject == "alice"


def test_wrong_audience_refused(idp: SamlIdentityProvider) -> None:
    token = idp.response("alice", now=NOW, audience="https://some-other-sp.example.com")
    assert refused(idp, token) == "Token is not from a supported provider of this identity pool."


def test_expired_and_future_assertions_refused(idp: SamlIdentityProvider) -> None:
    old = idp.response("alice", now=NOW - 3600, lifetime=300)
    assert refused(idp, old).startswith("Invalid login token. Token expired:")
    future = idp.response("alice", now=NOW + 3600)
    assert refused(idp, future).startswith("Invalid login token. Token is not valid yet")


@pytest.mark.parametrize("token", ["", "not base64 !!", base64.b64encode(b"<x/>").decode()])
def test_malformed_responses_refused(idp: SamlIdentityProvider, token: str) -> None:
    assert refused(idp, token).startswith("Invalid login token.")


def test_entity_expansion_is_not_resolved(idp: SamlIdentityProvider) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&b;</samlp:Response>'
    )
    token = base64.b64encode(bomb.encode()).decode()
    assert refused(idp, token).startswith("Invalid login token.")
