"""Edits of a SAML assertion before `SamlIdentityProvider.response` signs it, and forgeries of
a signed response: correctly signed assertions that break one of AWS's rules, and signatures
whose KeyInfo or SignatureValue a verifier library may choke on."""

from __future__ import annotations

import base64
import copy
import re
import time
from collections.abc import Callable
from typing import Any

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
Edit = Callable[[Any], None]


def find(assertion: Any, path: str) -> Any:
    """`path` with `saml:` prefixes, under the lxml assertion element."""
    return assertion.find(path.replace("saml:", f"{{{SAML_NS}}}"))


def confirmation_data(assertion: Any) -> Any:
    return find(assertion, "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData")


def stamp(t: float, zone: str = "Z") -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + zone


def recipient(url: str) -> Edit:
    def edit(assertion: Any) -> None:
        confirmation_data(assertion).set("Recipient", url)

    return edit


def issuer(text: str | None) -> Edit:
    """Another Issuer, or none at all."""

    def edit(assertion: Any) -> None:
        node = find(assertion, "saml:Issuer")
        if text is None:
            assertion.remove(node)
        else:
            node.text = text

    return edit


def drop_confirmation_attribute(attribute: str) -> Edit:
    def edit(assertion: Any) -> None:
        del confirmation_data(assertion).attrib[attribute]

    return edit


def no_confirmation_data(assertion: Any) -> None:
    data = confirmation_data(assertion)
    data.getparent().remove(data)


def no_confirmation(assertion: Any) -> None:
    confirmation = find(assertion, "saml:Subject/saml:SubjectConfirmation")
    confirmation.getparent().remove(confirmation)


def two_confirmations(assertion: Any) -> None:
    confirmation = find(assertion, "saml:Subject/saml:SubjectConfirmation")
    confirmation.addnext(copy.deepcopy(confirmation))


def issued_at(at: float | None) -> Edit:
    """Another IssueInstant, or none at all."""

    def edit(assertion: Any) -> None:
        if at is None:
            del assertion.attrib["IssueInstant"]
        else:
            assertion.set("IssueInstant", stamp(at))

    return edit


def no_expiry(assertion: Any) -> None:
    """Neither Conditions nor SubjectConfirmationData say when the assertion expires."""
    del find(assertion, "saml:Conditions").attrib["NotOnOrAfter"]
    del confirmation_data(assertion).attrib["NotOnOrAfter"]


def audience_restrictions(*groups: list[str]) -> Edit:
    """Conditions holding one AudienceRestriction per group of audiences."""

    def edit(assertion: Any) -> None:
        conditions = find(assertion, "saml:Conditions")
        for old in list(conditions):
            conditions.remove(old)
        for group in groups:
            restriction = conditions.makeelement(f"{{{SAML_NS}}}AudienceRestriction", {})
            for audience in group:
                node = restriction.makeelement(f"{{{SAML_NS}}}Audience", {})
                node.text = audience
                restriction.append(node)
            conditions.append(restriction)

    return edit


def zoneless_times(assertion: Any) -> None:
    """Every timestamp without its `Z` (XML Schema: no zone; SAML: read as UTC)."""
    for element in assertion.iter():
        for name, value in element.attrib.items():
            if re.fullmatch(r"\d{4}-.*Z", value):
                element.set(name, value[:-1])


def _ec_der_key() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


_DSIG11 = 'xmlns:dsig11="http://www.w3.org/2009/xmldsig11#"'
# name -> (pattern in the signed response, replacement); each once made signxml raise
# TypeError or NotImplementedError instead of a signature error.
FORGERIES = {
    "empty SignatureValue": (
        r"<ds:SignatureValue>[^<]*</ds:SignatureValue>",
        "<ds:SignatureValue/>",
    ),
    "EC DER key too": (
        r"</ds:KeyInfo>",
        f"<dsig11:DEREncodedKeyValue {_DSIG11}>{_ec_der_key()}</dsig11:DEREncodedKeyValue>"
        "</ds:KeyInfo>",
    ),
    "EC DER key only": (
        r"<ds:KeyInfo>.*</ds:KeyInfo>",
        f"<ds:KeyInfo><dsig11:DEREncodedKeyValue {_DSIG11}>{_ec_der_key()}"
        "</dsig11:DEREncodedKeyValue></ds:KeyInfo>",
    ),
    "RSA empty Modulus": (
        r"<ds:KeyInfo>.*</ds:KeyInfo>",
        "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus></ds:Modulus>"
        "<ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue></ds:KeyInfo>",
    ),
}


def forged(name: str, signed_response: str) -> str:
    """`signed_response` (base64) with the forgery `name` of FORGERIES applied once."""
    pattern, replacement = FORGERIES[name]
    xml = base64.b64decode(signed_response).decode()
    result, count = re.subn(pattern, replacement, xml, flags=re.S)
    assert count == 1, f"forgery {name!r} did not apply"
    return base64.b64encode(result.encode()).decode()
