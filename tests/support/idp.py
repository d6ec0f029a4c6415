"""Test identity providers on loopback ports: an OIDC/user-pool issuer, social fakes, a SAML IdP.

`LocalIdentityProvider` owns RSA, EC and Ed25519 keys, serves its discovery document and JWKS
(also under `/<pool id>/.well-known/jwks.json`, like a Cognito user pool) and issues tokens with
any claims, algorithm and `kid` — including the forgeries the verifier must refuse. It can
rotate keys and go down (503, garbage, or a dropped connection). `FakeSocialProvider` answers
like Facebook Graph, Login with Amazon and Twitter for a table of known tokens.
`SamlIdentityProvider` signs SAML responses with its own certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

Route = Callable[[str, str, Mapping[str, list[str]], Mapping[str, str]], tuple[int, bytes] | None]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


# 100 kB of "[": well under the 512 KiB answer cap, far deeper than json.loads can recurse.
NESTED_JSON = b"[" * 100_000


class LoopbackServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 answering GETs through `route`.

    `route` returns (status, JSON body) or None to drop the connection without an answer.
    """

    def __init__(self, route: Route) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                outer.requests.append(parts.path)
                answer = route("GET", parts.path, parse_qs(parts.query), dict(self.headers))
                if answer is None:
                    self.close_connection = True
                    return
                status, body = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.requests: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


class LocalIdentityProvider:
    """An OIDC issuer with real keys, served on a loopback port.

    `issuer` is what tokens carry in `iss` (e.g. `https://idp.test` or a Cognito user-pool
    URL); the providers configuration maps it to `jwks_url` / `discovery_url` here.
    """

    def __init__(self, issuer: str | None = None) -> None:
        self.server = LoopbackServer(self._route)
        self.issuer = issuer or self.server.url
        self.mode = "up"
        self.generation = 1
        self.keys: dict[str, Key] = {}
        self.published: list[str] = []
        self._add(RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}))
        self._add(ECKey.generate_key("P-256", parameters={"kid": "ec-1"}))
        self._add(OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"}))

    # --- serving ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def jwks_fetches(self) -> int:
        return sum(1 for p in self.server.requests if p.endswith(("jwks.json", "/certs")))

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.keys[kid].as_dict(private=False) for kid in self.published]}

    def _route(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]
    ) -> tuple[int, bytes] | None:
        if self.mode == "closed":
            return None
        if self.mode == "503":
            return 503, b'{"message":"unavailable"}'
        if self.mode == "garbage":
            return 200, b"<html>not json</html>"
        if self.mode == "nested":
            return 200, NESTED_JSON
        if path.endswith("/.well-known/openid-configuration"):
            return 200, _json({"issuer": self.issuer, "jwks_uri": self.jwks_url})
        if path.endswith("/jwks.json"):
            return 200, _json(self.jwks())
        return 404, b"{}"

    def down(self, mode: str = "503") -> None:
        """`503`, `garbage` (200 with HTML), `nested` (200 with JSON nested too deep to parse)
        or `closed` (connection dropped unanswered)."""
        self.mode = mode

    def up(self) -> None:
        self.mode = "up"

    def close(self) -> None:
        self.server.close()

    # --- keys ------------------------------------------------------------------------------

    def _add(self, key: Key) -> None:
        assert key.kid is not None
        self.keys[key.kid] = key
        self.published.append(key.kid)

    def rotate(self) -> str:
        """Replace the RSA key by a new one with a new kid; the old one is unpublished."""
        self.generation += 1
        kid = f"rsa-{self.generation}"
        old = [k for k in self.published if k.startswith("rsa-")]
        self._add(RSAKey.generate_key(2048, parameters={"kid": kid}))
        self.published = [k for k in self.published if k not in old]
        return kid

    def current_rsa_kid(self) -> str:
        return [k for k in self.published if k.startswith("rsa-")][-1]

    # --- tokens ----------------------------------------------------------------------------

    def claims(
        self, now: float | None = None, lifetime: int = 3600, **claims: Any
    ) -> dict[str, Any]:
        issued = int(time.time() if now is None else now)
        base: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(uuid.uuid4()),
            "aud": "client-1",
            "iat": issued,
            "exp": issued + lifetime,
        }
        base.update(claims)
        return {k: v for k, v in base.items() if v is not None}

    def token(
        self,
        claims: Mapping[str, Any],
        *,
        alg: str = "RS256",
        kid: str | None = None,
        key: Key | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """A correctly signed token; `kid` defaults to the current key of the alg's type."""
        if key is None:
            if kid is None:
                kid = "ed-1" if alg.startswith("Ed") else "ec-1"
                if alg.startswith(("RS", "PS")):
                    kid = self.current_rsa_kid()
            key = self.keys[kid]
        protected = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {}), **(header or {})}
        payload = json.dumps(dict(claims)).encode()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)  # EdDSA: deprecated, still used
            return jws.serialize_compact(protected, payload, key, algorithms=[alg])

    def unsigned_token(self, claims: Mapping[str, Any]) -> str:
        """`alg: none` with an empty signature."""
        return f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(dict(claims))}."

    def hs256_with_public_key(self, claims: Mapping[str, Any]) -> str:
        """The algorithm-confusion forgery: HMAC keyed with the RSA public key's PEM."""
        rsa_key = self.keys[self.current_rsa_kid()]
        assert isinstance(rsa_key, RSAKey)
        public_pem = rsa_key.as_pem(private=False)
        header = b64json({"alg": "HS256", "typ": "JWT", "kid": self.current_rsa_kid()})
        signing_input = f"{header}.{b64json(dict(claims))}"
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(mac)}"

    @staticmethod
    def tampered(token: str, **changes: Any) -> str:
        """The same header and signature over a modified payload."""
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims.update(changes)
        return f"{header}.{b64json(claims)}.{signature}"


class FakeSocialProvider:
    """Facebook Graph, Login with Amazon and Twitter, for the tokens registered on it."""

    def __init__(self) -> None:
        self.facebook: dict[str, tuple[str, str]] = {}  # token -> (app id, user id)
        self.amazon: dict[str, tuple[str, str]] = {}  # token -> (client id, user id)
        self.twitter: dict[str, str] = {}  # oauth token -> user id
        self.authorizations: list[str] = []
        self.mode = "up"
        self.server = LoopbackServer(self._route)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()

    def _route(
        self, method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]
    ) -> tuple[int, bytes] | None:
        if self.mode == "closed":
            return None
        if self.mode == "503":
            return 503, b"{}"
        if self.mode == "nested":
            return 200, NESTED_JSON
        token = query.get("access_token", [""])[0]
        error = 400, _json({"error": {"type": "OAuthException", "code": 190}})
        if path == "/app":
            return (
                (200, _json({"id": self.facebook[token][0]})) if token in self.facebook else error
            )
        if path == "/me":
            return (
                (200, _json({"id": self.facebook[token][1]})) if token in self.facebook else error
            )
        if path == "/auth/o2/tokeninfo":
            if token not in self.amazon:
                return 400, _json({"error": "invalid_token"})
            client, user = self.amazon[token]
            return 200, _json({"aud": client, "user_id": user, "iss": "https://www.amazon.com"})
        if path == "/1.1/account/verify_credentials.json":
            auth = headers.get("Authorization", "")
            self.authorizations.append(auth)
            for oauth_token, user in self.twitter.items():
                if f'oauth_token="{oauth_token}"' in auth and "oauth_signature=" in auth:
                    return 200, _json({"id": int(user), "id_str": user})
            return 401, _json({"errors": [{"code": 89}]})
        return 404, b"{}"


class SamlIdentityProvider:
    """Signs SAML 2.0 responses with its own self-signed certificate (RSA-SHA256)."""

    def __init__(self, entity_id: str = "https://saml-idp.test/metadata") -> None:
        self.entity_id = entity_id
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "saml-idp.test")])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(self.private_key, hashes.SHA256())
        )

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def metadata(self) -> str:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        cert = base64.b64encode(der).decode()
        return (
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{self.entity_id}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
            f"<ds:X509Certificate>{cert}</ds:X509Certificate>"
            "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def assertion_xml(
        self,
        name_id: str,
        *,
        now: float,
        lifetime: int = 300,
        audience: str = "https://signin.aws.amazon.com/saml",
        attributes: Mapping[str, list[str]] | None = None,
        assertion_id: str = "_assertion1",
    ) -> str:
        def stamp(t: float) -> str:
            return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        attrs = "".join(
            f'<saml:Attribute Name="{name}">'
            + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in values)
            + "</saml:Attribute>"
            for name, values in (attributes or {}).items()
        )
        return (
            '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="{assertion_id}" Version="2.0" IssueInstant="{stamp(now)}">'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>"
            f"<saml:Subject><saml:NameID>{name_id}</saml:NameID>"
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{stamp(now + lifetime)}" '
            'Recipient="https://signin.aws.amazon.com/saml"/></saml:SubjectConfirmation>'
            "</saml:Subject>"
            f'<saml:Conditions NotBefore="{stamp(now - 5)}" NotOnOrAfter="{stamp(now + lifetime)}">'
            f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>"
            "</saml:AudienceRestriction></saml:Conditions>"
            f"<saml:AttributeStatement>{attrs}</saml:AttributeStatement>"
            "</saml:Assertion>"
        )

    def response(
        self,
        name_id: str,
        *,
        now: float,
        sign: str = "assertion",
        edit: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> str:
        """A base64 samlp:Response; `sign` is `assertion`, `response` or `none`.

        `edit` changes the saml:Assertion element (lxml) before it is signed, for assertions
        that are correctly signed but break a rule.
        """
        from lxml import etree
        from signxml.signer import XMLSigner

        assertion = etree.fromstring(self.assertion_xml(name_id, now=now, **kwargs).encode())
        if edit is not None:
            edit(assertion)
        key_pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        signer = XMLSigner(c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
        if sign == "assertion":
            assertion = signer.sign(assertion, key=key_pem, cert=self.certificate_pem)
            _move_signature_after_issuer(assertion)
        response = etree.fromstring(
            b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_response1" Version="2.0">'
            b"<saml:Issuer>" + self.entity_id.encode() + b"</saml:Issuer>"
            b'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            b"</samlp:Status></samlp:Response>"
        )
        response.append(assertion)
        if sign == "response":
            response = signer.sign(response, key=key_pem, cert=self.certificate_pem)
        return base64.b64encode(etree.tostring(response)).decode()


def _move_signature_after_issuer(element: Any) -> None:
    """SAML's schema wants ds:Signature right after Issuer; signxml appends it last."""
    signature = element.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    element.remove(signature)
    element.insert(1, signature)
