"""Trust mode: take login tokens at face value, for local development against fake providers.

Emulator users expect a Logins map to work without a reachable identity provider. With
trust mode on (an explicit setting, off by default, announced loudly at start-up) nothing
about a token is checked: no signature, issuer, audience or expiry. What a login is derived
from, exactly (docs/login-providers.md, "Trust mode"):

- claims: the payload of a JWT (decoded, never verified), else the token itself when it is a
  JSON object (`{"sub": "fb-user-1", "email": "..."}`), else none;
- subject: the `sub` claim when it is a non-empty string or a number, else the whole token
  string (an opaque Facebook, Amazon, Twitter or SAML token is its own user id);
- audience: `azp`, else `aud` (the first string of a list), else the first app/client id the
  pool configures for that provider;
- the claims then get `sub` (the subject) and, when known, `aud` (the audience) where they
  lack them, and a Facebook/Amazon/Twitter/Digits login gets `iss` = its Logins key — the
  claims real verification gives those providers — so Rules-type role mappings on `sub`,
  `aud` or any claim of a JWT or JSON token can be exercised offline.

The pool's configuration still decides which Logins keys are accepted, and the `amr` entry
and RoleMappings key are built as for a verified login (targets.login_of).
"""

from __future__ import annotations

from typing import Any

from idpool.providers import untrusted_json
from idpool.providers.oidc import decode_unverified
from idpool.providers.targets import JWT_KINDS, Checked, Target


def claims_of(token: str) -> dict[str, Any]:
    """The claims a trusting server reads from `token`: a JWT's payload, a JSON object, or {}."""
    jwt = decode_unverified(token)
    if jwt is not None:
        return dict(jwt.claims)
    if token.lstrip().startswith("{"):
        try:
            document = untrusted_json.loads(token)
        except ValueError:
            return {}
        if isinstance(document, dict):
            return document
    return {}


def _subject(claims: dict[str, Any], token: str) -> str:
    sub = claims.get("sub")
    if isinstance(sub, str) and sub:
        return sub
    if isinstance(sub, int | float) and not isinstance(sub, bool):
        return str(sub)
    return token


def _audience(claims: dict[str, Any], target: Target) -> str | None:
    aud = claims.get("azp") or claims.get("aud")
    if isinstance(aud, list):
        aud = next((a for a in aud if isinstance(a, str) and a), None)
    if isinstance(aud, str) and aud:
        return aud
    return target.audiences[0] if target.audiences else None


class TrustVerifier:
    """Never raises for a token: anyone can be anyone. Never enable in production."""

    async def check(self, target: Target, token: str) -> Checked:
        claims = claims_of(token)
        subject = _subject(claims, token)
        audience = _audience(claims, target)
        claims.setdefault("sub", subject)
        if audience is not None:
            claims.setdefault("aud", audience)
        if target.kind not in JWT_KINDS and target.arn is None:
            claims.setdefault("iss", target.key)
        return Checked(subject=subject, claims=claims, audience=audience)
