"""SAML 2.0 logins under a SAML provider ARN: a base64 `samlp:Response` signed by the IdP.

Rules (docs/login-providers.md, "SAML assertions", and AWS's "Configure SAML assertions for
the authentication response" in the IAM User Guide): the XML signature (on the Response or on the
Assertion) must verify with a certificate from the provider's metadata, pinned — never one the
message brings along; only what that signature covers is read (so signature-wrapping copies are
ignored), and anything the signature library raises on a forged signature is a refusal. The
assertion's Issuer must be the provider's entityID. It needs an IssueInstant not in the future
and at most `MAX_ASSERTION_AGE_SECONDS` old, exactly one SubjectConfirmation whose
SubjectConfirmationData has a NotOnOrAfter and an AWS sign-in Recipient, and Conditions whose
every AudienceRestriction names AWS; all times allow the configured clock skew. The NameID is
the subject; every attribute becomes a claim. Each `https://aws.amazon.com/SAML/Attributes/Role`
value must be a `role ARN,provider ARN` pair (which of them a login may use is role selection's
business: service/roles.py). SHA-1 signatures are refused (signxml's default).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lxml import etree
from signxml.verifier import SignatureConfiguration, XMLVerifier

from idpool.domain.errors import NotAuthorizedException
from idpool.domain.ids import SAML_ROLE_ATTRIBUTE, is_region, saml_role_pair
from idpool.providers.config import SamlProviderConfig
from idpool.providers.oidc import BAD_SIGNATURE, NOT_SUPPORTED
from idpool.providers.saml_metadata import xml_parser
from idpool.providers.targets import Checked, Target

# signxml logs every document it canonicalizes at DEBUG: the whole signed assertion (NameID,
# attributes, roles). It must never inherit a debug level from idpool's own.
logging.getLogger("signxml").setLevel(logging.WARNING)
log = logging.getLogger("idpool.providers")

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
AWS_AUDIENCES = frozenset({"https://signin.aws.amazon.com/saml", "urn:amazon:webservices"})
AWS_SIGNIN = "signin.aws.amazon.com/saml"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
ROLE_ATTRIBUTE = SAML_ROLE_ATTRIBUTE
MAX_RESPONSE_BYTES = 256 * 1024
# AWS documents no bound on IssueInstant; IdPs commonly give assertions 5 minutes.
MAX_ASSERTION_AGE_SECONDS = 300

NOT_SAML = "Invalid login token. Not a valid SAML response."
WRONG_ISSUER = "Invalid login token. Issuer not present in specified provider"
ONE_CONFIRMATION = (
    "Invalid login token. The assertion needs exactly one SubjectConfirmation whose "
    "SubjectConfirmationData has NotOnOrAfter and Recipient."
)
WRONG_RECIPIENT = "Invalid login token. Recipient is not the AWS sign-in endpoint."
BAD_ROLE = (
    f"Invalid login token. Each {ROLE_ATTRIBUTE} value must be a role ARN and a SAML provider "
    "ARN separated by a comma."
)

# XML Schema dateTime (XSD part 2, 3.2.7): the zone is optional and SAML reads none as UTC.
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?"
)


def xs_datetime(value: str) -> float:
    """Seconds since the epoch of an XML Schema dateTime; no zone is UTC. ValueError else."""
    match = _DATETIME.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an xs:dateTime: {value!r}")
    fraction = f".{(match['fraction'] + '00000')[:6]}" if match["fraction"] else ""
    zone = match["zone"] or "Z"
    offset = "+00:00" if zone == "Z" else zone
    return datetime.fromisoformat(f"{match['date']}T{match['time']}{fraction}{offset}").timestamp()


def is_aws_recipient(url: str) -> bool:
    """AWS's sign-in endpoint: `https://signin.aws.amazon.com/saml` or its regional form
    `https://<region>.signin.aws.amazon.com/saml` (IAM User Guide, SAML assertions)."""
    host_path = url.strip().removeprefix("https://")
    if host_path == url.strip():
        return False
    region, _, rest = host_path.partition(".")
    return host_path == AWS_SIGNIN or (rest == AWS_SIGNIN and is_region(region))


def _time(element: etree._Element, name: str) -> float | None:
    value = element.get(name)
    if value is None:
        return None
    try:
        return xs_datetime(value)
    except ValueError:
        raise NotAuthorizedException(NOT_SAML) from None


class SamlVerifier:
    def __init__(
        self,
        providers: Mapping[str, SamlProviderConfig],
        clock: Callable[[], float],
        *,
        leeway: float,
    ) -> None:
        self._providers = providers
        self._clock = clock
        self._leeway = leeway

    async def check(self, target: Target, token: str) -> Checked:
        provider = self._providers.get(target.arn or "")
        if provider is None:
            raise NotAuthorizedException(BAD_SIGNATURE)
        document = _decode(token)
        assertion = _signed_assertion(document, provider.certificates)
        issuer = assertion.find(f"{{{SAML}}}Issuer")
        if issuer is None or (issuer.text or "").strip() != provider.entity_id:
            raise NotAuthorizedException(WRONG_ISSUER)
        now = self._clock()
        self._check_subject_confirmation(assertion, now)
        self._check_conditions(assertion, now)
        self._check_issue_instant(assertion, now)
        name_id = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
        subject = (name_id.text or "").strip() if name_id is not None else ""
        if not subject:
            raise NotAuthorizedException("Invalid login token. Missing a required claim: NameID")
        claims: dict[str, Any] = _attributes(assertion)
        claims.setdefault("iss", provider.entity_id)
        claims["sub"] = subject
        return Checked(subject=subject, claims=claims, audience=None)

    def _not_before(self, moment: float | None, name: str, now: float) -> None:
        if moment is not None and moment > now + self._leeway:
            raise NotAuthorizedException(
                f"Invalid login token. Token is not valid yet: {name} {int(moment)} > {int(now)}"
            )

    def _not_on_or_after(self, deadline: float | None, now: float) -> None:
        if deadline is not None and now >= deadline + self._leeway:
            raise NotAuthorizedException(
                f"Invalid login token. Token expired: {int(now)} >= {int(deadline)}"
            )

    def _check_issue_instant(self, assertion: etree._Element, now: float) -> None:
        issued = _time(assertion, "IssueInstant")
        if issued is None:
            raise NotAuthorizedException(NOT_SAML)
        self._not_before(issued, "IssueInstant", now)
        self._not_on_or_after(issued + MAX_ASSERTION_AGE_SECONDS, now)

    def _check_subject_confirmation(self, assertion: etree._Element, now: float) -> None:
        path = f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation"
        confirmations = assertion.findall(path)
        if len(confirmations) != 1:
            raise NotAuthorizedException(ONE_CONFIRMATION)
        data = confirmations[0].find(f"{{{SAML}}}SubjectConfirmationData")
        if data is None or data.get("NotOnOrAfter") is None or data.get("Recipient") is None:
            raise NotAuthorizedException(ONE_CONFIRMATION)
        if not is_aws_recipient(data.get("Recipient", "")):
            raise NotAuthorizedException(WRONG_RECIPIENT)
        self._not_before(_time(data, "NotBefore"), "NotBefore", now)
        self._not_on_or_after(_time(data, "NotOnOrAfter"), now)

    def _check_conditions(self, assertion: etree._Element, now: float) -> None:
        conditions = assertion.find(f"{{{SAML}}}Conditions")
        if conditions is None:
            raise NotAuthorizedException(NOT_SAML)
        self._not_before(_time(conditions, "NotBefore"), "NotBefore", now)
        self._not_on_or_after(_time(conditions, "NotOnOrAfter"), now)
        # SAML core 2.5.1.4: the assertion is addressed to the audiences of EVERY restriction.
        restrictions = conditions.findall(f"{{{SAML}}}AudienceRestriction")
        if not restrictions:
            raise NotAuthorizedException(NOT_SUPPORTED)
        for restriction in restrictions:
            audiences = {
                (a.text or "").strip() for a in restriction.iterfind(f"{{{SAML}}}Audience")
            }
            if not audiences & AWS_AUDIENCES:
                raise NotAuthorizedException(NOT_SUPPORTED)


def _decode(token: str) -> etree._Element:
    try:
        raw = base64.b64decode(token.strip(), validate=False)
    except (ValueError, binascii.Error):
        raise NotAuthorizedException(NOT_SAML) from None
    if not raw or len(raw) > MAX_RESPONSE_BYTES:
        raise NotAuthorizedException(NOT_SAML)
    try:
        root = etree.fromstring(raw, parser=xml_parser())
    except etree.XMLSyntaxError:
        raise NotAuthorizedException(NOT_SAML) from None
    # SAML never needs a DTD; one in a caller's message is an entity or wrapping trick.
    if root.getroottree().docinfo.internalDTD is not None or root.tag != f"{{{SAMLP}}}Response":
        raise NotAuthorizedException(NOT_SAML)
    status = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    if status is not None and status.get("Value") != SUCCESS:
        raise NotAuthorizedException("Invalid login token. The SAML response is not a success.")
    return root


def _signed_assertion(document: etree._Element, certificates: tuple[str, ...]) -> Any:
    """The one Assertion covered by a signature made with a pinned certificate."""
    locations = ("./", f"./{{{SAML}}}Assertion/")
    for location in locations:
        config = SignatureConfiguration(location=location)
        for cert in certificates:
            try:
                result = XMLVerifier().verify(document, x509_cert=cert, expect_config=config)
            except Exception as exc:
                # Forged KeyInfo/SignatureValue content makes signxml raise more than its own
                # InvalidSignature (TypeError, NotImplementedError, ...): all mean "not verified".
                log.debug("SAML signature not verified: %s", type(exc).__name__)
                continue
            signed = result[0].signed_xml if isinstance(result, list) else result.signed_xml
            if not isinstance(signed, etree._Element):
                continue
            if signed.tag == f"{{{SAML}}}Assertion":
                return signed
            assertions = signed.findall(f"{{{SAML}}}Assertion")
            if signed.tag == f"{{{SAMLP}}}Response" and len(assertions) == 1:
                return assertions[0]
    raise NotAuthorizedException(BAD_SIGNATURE)


def _attributes(assertion: etree._Element) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    path = f"{{{SAML}}}AttributeStatement/{{{SAML}}}Attribute"
    for attribute in assertion.iterfind(path):
        name = attribute.get("Name")
        if not name:
            continue
        values = [(v.text or "").strip() for v in attribute.iterfind(f"{{{SAML}}}AttributeValue")]
        if name == ROLE_ATTRIBUTE:
            if not values or any(saml_role_pair(v) is None for v in values):
                raise NotAuthorizedException(BAD_ROLE)
            claims[name] = values
            continue
        claims[name] = values[0] if len(values) == 1 else values
    return claims
