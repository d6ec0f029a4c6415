"""SAML 2.0 logins under a SAML provider ARN: a base64 `samlp:Response` signed by the IdP.

Rules (reference §7.2 and §6.2 step 7): the XML signature (on the Response or on the
Assertion) must verify with a certificate from the provider's metadata, pinned — never one
the message brings along; only what that signature covers is read (so signature-wrapping
copies are ignored); the Audience must be AWS's `https://signin.aws.amazon.com/saml`; the
Conditions and SubjectConfirmationData times must hold. The NameID is the subject; every
attribute becomes a claim, the `https://aws.amazon.com/SAML/Attributes/Role` attribute
included, for Token-type role mappings. SHA-1 signatures are refused (signxml's default).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.verifier import SignatureConfiguration, XMLVerifier

from idpool.domain.errors import NotAuthorizedException
from idpool.providers.config import SamlProviderConfig
from idpool.providers.oidc import BAD_SIGNATURE, NOT_SUPPORTED
from idpool.providers.targets import Checked, Target

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
AWS_AUDIENCES = frozenset({"https://signin.aws.amazon.com/saml", "urn:amazon:webservices"})
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
NOT_SAML = "Invalid login token. Not a valid SAML response."
MAX_RESPONSE_BYTES = 256 * 1024


def _parser() -> etree.XMLParser:
    """No DTDs, entities or network: SAML responses come from the caller."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def normalize_certificate(text: str) -> str:
    """A PEM certificate from PEM or bare base64 DER (as in metadata); ValueError otherwise."""
    body = text.strip()
    try:
        if "-----BEGIN CERTIFICATE-----" in body:
            cert = x509.load_pem_x509_certificate(body.encode())
        else:
            cert = x509.load_der_x509_certificate(base64.b64decode("".join(body.split())))
    except (ValueError, binascii.Error):
        raise ValueError("not an X.509 certificate") from None
    return cert.public_bytes(Encoding.PEM).decode("ascii")


def certificates_from_metadata(xml: str) -> tuple[str, ...]:
    """The signing certificates of the IdP role in SAML metadata; ValueError when none."""
    try:
        root = etree.fromstring(xml.encode(), parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"metadata is not XML: {exc}") from None
    certs: list[str] = []
    path = f".//{{{MD}}}IDPSSODescriptor/{{{MD}}}KeyDescriptor"
    for descriptor in root.iterfind(path):
        if descriptor.get("use", "signing") != "signing":
            continue
        for node in descriptor.iterfind(f".//{{{DS}}}X509Certificate"):
            certs.append(normalize_certificate(node.text or ""))
    if not certs:
        raise ValueError("no IdP signing certificate in the metadata")
    return tuple(dict.fromkeys(certs))


def _time(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
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
        self._check_conditions(assertion)
        name_id = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
        subject = (name_id.text or "").strip() if name_id is not None else ""
        if not subject:
            raise NotAuthorizedException("Invalid login token. Missing a required claim: NameID")
        claims: dict[str, Any] = _attributes(assertion)
        issuer = assertion.find(f"{{{SAML}}}Issuer")
        if issuer is not None and issuer.text:
            claims.setdefault("iss", issuer.text.strip())
        claims["sub"] = subject
        return Checked(subject=subject, claims=claims, audience=None)

    def _check_conditions(self, assertion: etree._Element) -> None:
        now = self._clock()
        conditions = assertion.find(f"{{{SAML}}}Conditions")
        if conditions is None:
            raise NotAuthorizedException(NOT_SAML)
        not_before = _time(conditions.get("NotBefore"))
        if not_before is not None and not_before > now + self._leeway:
            raise NotAuthorizedException(
                f"Invalid login token. Token is not valid yet: NotBefore {int(not_before)} > "
                f"{int(now)}"
            )
        deadlines = [_time(conditions.get("NotOnOrAfter"))]
        confirmations = assertion.iterfind(
            f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation/{{{SAML}}}SubjectConfirmationData"
        )
        deadlines += [_time(c.get("NotOnOrAfter")) for c in confirmations]
        for deadline in deadlines:
            if deadline is not None and now >= deadline + self._leeway:
                raise NotAuthorizedException(
                    f"Invalid login token. Token expired: {int(now)} >= {int(deadline)}"
                )
        audiences = {
            (a.text or "").strip()
            for a in conditions.iterfind(f"{{{SAML}}}AudienceRestriction/{{{SAML}}}Audience")
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
        root = etree.fromstring(raw, parser=_parser())
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
            except (InvalidSignature, InvalidInput, ValueError, etree.LxmlError):
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
        claims[name] = values[0] if len(values) == 1 and name != ROLE_ATTRIBUTE else values
    return claims
