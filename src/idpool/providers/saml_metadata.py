"""A SAML identity provider's metadata: its entityID and pinned signing certificates.

Read when the providers file is loaded (providers/config.py); the certificates are then the
only ones a SAML response may be verified with (providers/saml.py).
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


def xml_parser() -> etree.XMLParser:
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


def idp_from_metadata(xml: str) -> tuple[str, tuple[str, ...]]:
    """The entityID and signing certificates of the one IdP in SAML metadata; ValueError else.

    IAM keeps both from the metadata document: the entityID is the Issuer that assertions
    presented under the provider must name.
    """
    try:
        root = etree.fromstring(xml.encode(), parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"metadata is not XML: {exc}") from None
    entities = [root] if root.tag == f"{{{MD}}}EntityDescriptor" else []
    if root.tag == f"{{{MD}}}EntitiesDescriptor":
        entities = list(root.iterfind(f".//{{{MD}}}EntityDescriptor"))
    idps = [e for e in entities if e.find(f"{{{MD}}}IDPSSODescriptor") is not None]
    if len(idps) != 1:
        raise ValueError("the metadata must describe exactly one identity provider")
    entity_id = (idps[0].get("entityID") or "").strip()
    if not entity_id:
        raise ValueError("the identity provider in the metadata has no entityID")
    certs: list[str] = []
    for descriptor in idps[0].iterfind(f"{{{MD}}}IDPSSODescriptor/{{{MD}}}KeyDescriptor"):
        if descriptor.get("use", "signing") != "signing":
            continue
        for node in descriptor.iterfind(f".//{{{DS}}}X509Certificate"):
            certs.append(normalize_certificate(node.text or ""))
    if not certs:
        raise ValueError("no IdP signing certificate in the metadata")
    return entity_id, tuple(dict.fromkeys(certs))
