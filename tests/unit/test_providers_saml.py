"""SAML logins: signature pinned to the metadata certificate, issuer binding, AWS's assertion
rules (one SubjectConfirmation with NotOnOrAfter and an AWS Recipient, IssueInstant, every
AudienceRestriction), the Role attribute's pairs, and no assertion content in any log."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from idpool.domain.errors import NotAuthorizedException
from idpool.domain.records import Pool, VerifiedLogin
from idpool.providers.config import (
    ProvidersConfigError,
    load_providers_config,
)
from idpool.providers.registry import build_login_verifier
from idpool.providers.saml import (
    BAD_ROLE,
    NOT_SAML,
    ONE_CONFIRMATION,
    WRONG_ISSUER,
    WRONG_RECIPIENT,
    xs_datetime,
)
from tests.support.idp import SamlIdentityProvider
from tests.support.saml_edits import (
    FORGERIES,
    audience_restrictions,
    confirmation_data,
    drop_confirmation_attribute,
    forged,
    issued_at,
    issuer,
    no_confirmation,
    no_confirmation_data,
    no_expiry,
    recipient,
    stamp,
    two_confirmations,
    zoneless_times,
)

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


BAD_SIGNATURE = "Invalid login token. Couldn't verify signed token."
NOT_SUPPORTED = "Token is not from a supported provider of this identity pool."


def verify(
    source: dict[str, Any],
    token: str,
    *,
    now: float = NOW,
    arn: str = ARN,
    providers: dict[str, Any] | None = None,
    leeway: int = 60,
) -> VerifiedLogin:
    async def go() -> VerifiedLogin:
        async with httpx.AsyncClient() as http:
            raw = {"saml_providers": providers or {ARN: source}, "leeway_seconds": leeway}
            cfg = load_providers_config(raw)
            verifier = build_login_verifier(cfg, http, lambda: now, None)
            pool = replace(POOL, saml_provider_arns=(arn,))
            return await verifier.verify(pool, arn, token)

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
    source = {"certificate": idp.certificate_pem, "entity_id": idp.entity_id}
    assert verify(source, token).subject == "bob"
    with pytest.raises(NotAuthorizedException) as info:
        verify({"certificate": idp.certificate_pem, "entity_id": "https://other.test"}, token)
    assert info.value.message == WRONG_ISSUER


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


# --- the provider's entityID ------------------------------------------------------------------


def test_entity_id_comes_from_metadata_or_is_given_with_a_certificate(
    idp: SamlIdentityProvider,
) -> None:
    for source, message in [
        ({"certificate": idp.certificate_pem}, "entity_id: is required with certificate"),
        ({"metadata": idp.metadata(), "entity_id": "https://x"}, "entity_id: comes from the"),
        ({"certificate": idp.certificate_pem, "entity_id": ""}, "entity_id: must be a non-empty"),
    ]:
        with pytest.raises(ProvidersConfigError, match=message):
            load_providers_config({"saml_providers": {ARN: source}})


def test_metadata_must_describe_one_identity_provider(idp: SamlIdentityProvider) -> None:
    other = SamlIdentityProvider(entity_id="https://second-idp.test")
    two = (
        '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
        + idp.metadata()
        + other.metadata()
        + "</md:EntitiesDescriptor>"
    )
    with pytest.raises(ProvidersConfigError, match="exactly one identity provider"):
        load_providers_config({"saml_providers": {ARN: {"metadata": two}}})
    one = '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">'
    one += idp.metadata() + "</md:EntitiesDescriptor>"
    cfg = load_providers_config({"saml_providers": {ARN: {"metadata": one}}})
    assert cfg.saml_providers[ARN].entity_id == idp.entity_id
    nameless = idp.metadata().replace(f'entityID="{idp.entity_id}"', "")
    with pytest.raises(ProvidersConfigError, match="no entityID"):
        load_providers_config({"saml_providers": {ARN: {"metadata": nameless}}})


def test_assertion_of_provider_a_is_refused_under_provider_b_with_the_same_certificate(
    idp: SamlIdentityProvider,
) -> None:
    """Provider B (another account) pins the same certificate under another entityID."""
    other_arn = "arn:aws:iam::210987654321:saml-provider/B"
    cert = idp.certificate_pem
    providers = {
        ARN: {"metadata": idp.metadata()},
        other_arn: {"certificate": cert, "entity_id": "https://b.example.com/idp"},
    }
    token = idp.response("alice", now=NOW)
    assert verify({}, token, providers=providers).subject == "alice"
    with pytest.raises(NotAuthorizedException) as info:
        verify({}, token, providers=providers, arn=other_arn)
    assert info.value.message == "Invalid login token. Issuer not present in specified provider"


@pytest.mark.parametrize("text", ["https://evil.test/metadata", None, ""])
def test_issuer_must_be_the_providers_entity_id(
    idp: SamlIdentityProvider, text: str | None
) -> None:
    assert refused(idp, idp.response("alice", now=NOW, edit=issuer(text))) == WRONG_ISSUER


# --- SubjectConfirmation: exactly one, NotOnOrAfter and an AWS Recipient ----------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://signin.aws.amazon.com/saml",
        "https://us-east-1.signin.aws.amazon.com/saml",
        "https://eu-central-2.signin.aws.amazon.com/saml",
    ],
)
def test_aws_recipients_accepted(idp: SamlIdentityProvider, url: str) -> None:
    token = idp.response("a", now=NOW, edit=recipient(url))
    assert verify({"metadata": idp.metadata()}, token).subject == "a"


@pytest.mark.parametrize(
    "url",
    [
        "https://sp.example.com/acs",
        "",
        "http://signin.aws.amazon.com/saml",
        "https://signin.aws.amazon.com/saml/",
        "https://signin.aws.amazon.com/saml?x=1",
        "https://evil.test/signin.aws.amazon.com/saml",
        "https://nowhere.signin.aws.amazon.com/saml",
        "https://evil.test.signin.aws.amazon.com/saml",
        "https://signin.aws.amazon.com.evil.test/saml",
        "https://us-east-1.signin.aws.amazon.com/saml/acs/SAMLSP4SHN3UIS2D558H46",
    ],
)
def test_other_recipients_refused(idp: SamlIdentityProvider, url: str) -> None:
    assert refused(idp, idp.response("a", now=NOW, edit=recipient(url))) == WRONG_RECIPIENT


@pytest.mark.parametrize(
    "edit",
    [
        drop_confirmation_attribute("NotOnOrAfter"),
        drop_confirmation_attribute("Recipient"),
        no_confirmation_data,
        no_confirmation,
        two_confirmations,
    ],
    ids=["no NotOnOrAfter", "no Recipient", "no data", "none", "two"],
)
def test_exactly_one_complete_subject_confirmation(
    idp: SamlIdentityProvider, edit: Callable[[Any], None]
) -> None:
    assert refused(idp, idp.response("a", now=NOW, edit=edit)) == ONE_CONFIRMATION


def test_subject_confirmation_expiry_is_enforced(idp: SamlIdentityProvider) -> None:
    """Conditions still valid, the SubjectConfirmationData's NotOnOrAfter passed."""

    def edit(assertion: Any) -> None:
        confirmation_data(assertion).set("NotOnOrAfter", stamp(NOW - 120))

    message = refused(idp, idp.response("a", now=NOW, edit=edit))
    assert message == f"Invalid login token. Token expired: {NOW} >= {NOW - 120}"


# --- IssueInstant and the clock skew ------------------------------------------------------------


def test_year_old_issue_instant_without_expiry_refused(idp: SamlIdentityProvider) -> None:
    """The attack of the review: no expiry anywhere and a year-old IssueInstant."""
    old = NOW - 365 * 86400

    def edit(assertion: Any) -> None:
        issued_at(old)(assertion)
        no_expiry(assertion)

    assert refused(idp, idp.response("a", now=NOW, edit=edit)) == ONE_CONFIRMATION
    # With a far expiry the IssueInstant alone still bounds the assertion's age.
    far = idp.response("a", now=NOW, lifetime=400 * 86400, edit=issued_at(old))
    assert refused(idp, far).startswith("Invalid login token. Token expired:")


@pytest.mark.parametrize(
    ("issued", "leeway", "accepted"),
    [
        (NOW - 300 - 59, 60, True),  # almost 5 minutes old plus the skew: still accepted
        (NOW - 300 - 60, 60, False),
        (NOW - 299, 0, True),
        (NOW - 300, 0, False),
        (NOW + 60, 60, True),  # a fast IdP clock within the skew
        (NOW + 61, 60, False),
        (NOW + 1, 0, False),
    ],
)
def test_issue_instant_age_and_future_within_the_clock_skew(
    idp: SamlIdentityProvider, issued: int, leeway: int, accepted: bool
) -> None:
    token = idp.response("a", now=NOW, lifetime=3600, edit=issued_at(issued))
    source = {"metadata": idp.metadata()}
    if accepted:
        assert verify(source, token, leeway=leeway).subject == "a"
        return
    with pytest.raises(NotAuthorizedException) as info:
        verify(source, token, leeway=leeway)
    expected = "Token is not valid yet: IssueInstant" if issued > NOW else "Token expired:"
    assert info.value.message.startswith(f"Invalid login token. {expected}")


def test_missing_issue_instant_refused(idp: SamlIdentityProvider) -> None:
    assert refused(idp, idp.response("a", now=NOW, edit=issued_at(None))) == NOT_SAML


# --- timestamps per XML Schema dateTime --------------------------------------------------------


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """The process's local time 5 hours behind UTC, as on a server outside UTC."""
    import os

    before = os.environ.get("TZ")
    os.environ["TZ"] = "Etc/GMT+5"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_timestamps_without_a_zone_are_utc(idp: SamlIdentityProvider, far_from_utc: None) -> None:
    assert xs_datetime("2023-11-14T22:13:20") == NOW
    assert xs_datetime("2023-11-14T22:13:20Z") == NOW
    assert xs_datetime("2023-11-14T22:13:20.5Z") == NOW + 0.5
    assert xs_datetime("2023-11-15T00:13:20+02:00") == NOW
    assert xs_datetime("2023-11-14T17:13:20-05:00") == NOW
    xml = base64.b64decode(idp.response("a", now=NOW)).decode()
    assert 'Z"' in xml
    zoneless = idp.response("alice", now=NOW, edit=zoneless_times)
    assert verify({"metadata": idp.metadata()}, zoneless).subject == "alice"
    # Read as local time (5 h behind), the 5-minute assertion would have been expired.
    assert refused(idp, zoneless, now=NOW + 400).startswith("Invalid login token. Token expired")


@pytest.mark.parametrize(
    "value", ["2023-11-14", "2023-11-14 22:13:20Z", "20231114T221320Z", "2023-11-14T22:13Z", "x"]
)
def test_timestamps_that_are_not_xs_datetime_refused(idp: SamlIdentityProvider, value: str) -> None:
    with pytest.raises(ValueError):
        xs_datetime(value)

    def edit(assertion: Any) -> None:
        assertion.set("IssueInstant", value)

    assert refused(idp, idp.response("a", now=NOW, edit=edit)) == NOT_SAML


# --- audiences: every AudienceRestriction on its own -------------------------------------------


AWS_AUD = "https://signin.aws.amazon.com/saml"
OTHER_SP = "https://other-sp.example.com"


@pytest.mark.parametrize(
    ("audiences", "accepted"),
    [
        ([[AWS_AUD]], True),
        ([[OTHER_SP, AWS_AUD]], True),
        ([[AWS_AUD], ["urn:amazon:webservices"]], True),
        ([[AWS_AUD], [OTHER_SP]], False),
        ([[OTHER_SP], [AWS_AUD]], False),
        ([], False),
        ([[]], False),
    ],
)
def test_each_audience_restriction_must_name_aws(
    idp: SamlIdentityProvider, audiences: list[list[str]], accepted: bool
) -> None:
    token = idp.response("a", now=NOW, edit=audience_restrictions(*audiences))
    if accepted:
        assert verify({"metadata": idp.metadata()}, token).subject == "a"
    else:
        assert refused(idp, token) == NOT_SUPPORTED


# --- the Role attribute -------------------------------------------------------------------------

ROLE_ARN = "arn:aws:iam::123456789012:role/Dev"


@pytest.mark.parametrize("value", [f"{ROLE_ARN},{ARN}", f"{ARN},{ROLE_ARN}", f"{ROLE_ARN} , {ARN}"])
def test_role_pairs_in_either_order_accepted(idp: SamlIdentityProvider, value: str) -> None:
    token = idp.response("a", now=NOW, attributes={ROLE: [value, f"{ROLE_ARN}2,{ARN}"]})
    login = verify({"metadata": idp.metadata()}, token)
    assert login.claims[ROLE] == [value.strip(), f"{ROLE_ARN}2,{ARN}"]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-an-arn",
        ROLE_ARN,
        f"{ROLE_ARN},not-an-arn",
        f"arn:aws:iam::123456789012:user/Dev,{ARN}",
        f"{ROLE_ARN},{ROLE_ARN}",
        f"{ARN},{ARN}",
        f"{ROLE_ARN},{ARN},{ROLE_ARN}",
        f"arn:aws:iam::12345:role/Dev,{ARN}",
        f"{ROLE_ARN},arn:aws:iam::123456789012:oidc-provider/x",
    ],
)
def test_malformed_role_values_refused(idp: SamlIdentityProvider, value: str) -> None:
    token = idp.response("a", now=NOW, attributes={ROLE: [f"{ROLE_ARN},{ARN}", value]})
    assert refused(idp, token) == BAD_ROLE


# --- forged signatures are refused, never a 500 -------------------------------------------------


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_signature_elements_are_bad_signatures(
    idp: SamlIdentityProvider, forgery: str
) -> None:
    token = forged(forgery, idp.response("admin", now=NOW))
    assert refused(idp, token) == BAD_SIGNATURE


# --- no assertion content in any log ------------------------------------------------------------


def test_debug_logging_writes_no_assertion_content(
    idp: SamlIdentityProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = idp.response(
        "nameid-must-not-be-logged",
        now=NOW,
        attributes={ROLE: [ROLE_VALUE], "department": ["dept-must-not-be-logged"]},
    )
    assert verify({"metadata": idp.metadata()}, token).subject == "nameid-must-not-be-logged"
    bad = forged("empty SignatureValue", token)
    assert refused(idp, bad) == BAD_SIGNATURE
    assert logging.getLogger("signxml.processor").getEffectiveLevel() >= logging.WARNING
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("nameid-must-not-be-logged", "dept-must-not-be-logged", ROLE_VALUE, "Assertion"):
        assert secret not in text
