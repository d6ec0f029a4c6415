"""Signed JWT logins: generic OIDC providers, Google and Apple (user pools build on this too).

Order of checks: shape → issuer (it decides whose keys apply) → a provider that can accept
any client at all → audience → time (`exp`, `nbf`, `iat`) → algorithm allow-list → signature
with the issuer's key chosen by `kid` → subject. Everything that needs no keys comes first,
so a token that could never be accepted — an unregistered OIDC provider, a foreign client,
an expired token — is refused without any network access (keys are fetched only for a token
that would be accepted if its signature holds). Every failure is a NotAuthorizedException
with AWS's wording; only an unreachable provider becomes an ExternalServiceException.
joserfc does the cryptography; the allow-list is ours so that `none` and HMAC algorithms (an
HS256 token "signed" with the RSA public key as the secret) can never be selected by a
token's header.
"""

from __future__ import annotations

import base64
import binascii
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import Key

from idpool.domain.errors import NotAuthorizedException
from idpool.providers import untrusted_json
from idpool.providers.jwks_cache import JwksCache, KeySource
from idpool.providers.targets import Checked, Target

ALLOWED_ALGORITHMS: Mapping[str, str] = {
    **{f"RS{n}": "RSA" for n in (256, 384, 512)},
    **{f"PS{n}": "RSA" for n in (256, 384, 512)},
    **{f"ES{n}": "EC" for n in (256, 384, 512)},
    "EdDSA": "OKP",
    "Ed25519": "OKP",
    "Ed448": "OKP",
}

BAD_SIGNATURE = "Invalid login token. Couldn't verify signed token."
WRONG_ISSUER = "Invalid login token. Issuer doesn't match providerName"
NOT_SUPPORTED = "Token is not from a supported provider of this identity pool."
NOT_OIDC = "Invalid login token. Not a valid OpenId Connect identity token."


def missing_claim(name: str) -> NotAuthorizedException:
    return NotAuthorizedException(f"Invalid login token. Missing a required claim: {name}")


@dataclass(frozen=True, slots=True)
class UnverifiedJwt:
    """A compact JWS split and decoded, before anything about it is trusted."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]


def _b64json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return untrusted_json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def decode_unverified(token: str) -> UnverifiedJwt | None:
    """Header and claims of a compact JWS, or None when `token` is not one."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    try:
        header = _b64json(parts[0])
        claims = _b64json(parts[1])
    except (ValueError, UnicodeError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return UnverifiedJwt(header, claims)


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class JwtChecker:
    """Signature, time and audience checks shared by every JWT-based provider."""

    def __init__(self, keys: JwksCache, clock: Callable[[], float], *, leeway: float) -> None:
        self._keys = keys
        self._clock = clock
        self._leeway = leeway

    async def check(
        self, token: str, target: Target, *, malformed: str, require_audience: bool = True
    ) -> Checked:
        jwt = decode_unverified(token)
        if jwt is None:
            raise NotAuthorizedException(malformed)
        if jwt.claims.get("iss") not in target.issuers:
            raise NotAuthorizedException(WRONG_ISSUER)
        if target.audiences == ():
            # No client id is registered for this provider (e.g. an OIDC provider ARN no
            # operator configuration registers): no token can be accepted, so nothing is asked.
            raise NotAuthorizedException(NOT_SUPPORTED)
        audience = self.audience(jwt.claims, target.audiences, required=require_audience)
        self.check_time(jwt.claims)
        # The verified payload is the very bytes checked above; only its signature was missing.
        claims = await self.verified_claims(token, jwt, target.source)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise missing_claim("sub")
        return Checked(subject=subject, claims=claims, audience=audience)

    async def verified_claims(
        self, token: str, jwt: UnverifiedJwt, source: KeySource | None
    ) -> dict[str, Any]:
        """The payload, once its signature verified with one of the issuer's keys."""
        alg = jwt.header.get("alg")
        kid = jwt.header.get("kid")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS or source is None:
            raise NotAuthorizedException(BAD_SIGNATURE)
        if kid is not None and not isinstance(kid, str):
            raise NotAuthorizedException(BAD_SIGNATURE)
        for key in await self._keys.candidates(source, kid, ALLOWED_ALGORITHMS[alg]):
            payload = _verify(token, key, alg)
            if payload is not None:
                return payload
        raise NotAuthorizedException(BAD_SIGNATURE)

    def check_time(self, claims: Mapping[str, Any]) -> None:
        now = int(self._clock())
        exp = _number(claims, "exp")
        if exp is None:
            raise missing_claim("exp")
        if now >= exp + self._leeway:
            raise NotAuthorizedException(f"Invalid login token. Token expired: {now} >= {int(exp)}")
        for name in ("nbf", "iat"):
            value = _number(claims, name)
            if value is not None and value > now + self._leeway:
                raise NotAuthorizedException(
                    f"Invalid login token. Token is not valid yet: {name} {int(value)} > {now}"
                )

    @staticmethod
    def audience(
        claims: Mapping[str, Any], allowed: tuple[str, ...] | None, *, required: bool
    ) -> str | None:
        """The client the token was issued to, when it is one the pool accepts.

        As AWS documents for OIDC: `azp`, when present, names the client; otherwise one of
        the `aud` values must be a configured client id.
        """
        aud = claims.get("aud")
        values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
        if values is None or not values or not all(isinstance(v, str) for v in values):
            if required:
                raise missing_claim("aud")
            values = []
        azp = claims.get("azp")
        if isinstance(azp, str) and azp:
            if allowed is not None and azp not in allowed:
                raise NotAuthorizedException(NOT_SUPPORTED)
            return azp
        if allowed is None:
            return values[0] if values else None
        for value in values:
            if value in allowed:
                return str(value)
        raise NotAuthorizedException(NOT_SUPPORTED)


def _verify(token: str, key: Key, alg: str) -> dict[str, Any] | None:
    """The JSON payload when `key` verifies `token` under exactly `alg`, else None."""
    key_alg = key.alg
    if key_alg is not None and key_alg != alg:
        return None
    registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    # Providers may put certificate chains (x5c) in the header; joserfc's default is 512 bytes.
    registry.max_header_length = 8192
    try:
        with warnings.catch_warnings():
            # EdDSA is deprecated in favour of Ed25519 but still what most providers send.
            warnings.simplefilter("ignore", SecurityWarning)
            obj = jws.deserialize_compact(token, key, algorithms=[alg], registry=registry)
        payload = untrusted_json.loads(obj.payload)
    except (JoseError, ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None


class OidcVerifier:
    """Generic OIDC providers (IAM OIDC provider ARNs), Google and Apple ID tokens."""

    def __init__(self, checker: JwtChecker) -> None:
        self._checker = checker

    async def check(self, target: Target, token: str) -> Checked:
        return await self._checker.check(token, target, malformed=NOT_OIDC)
