"""Trust mode: take login tokens at face value, for local development against fake providers.

Emulator users expect a Logins map to work without a reachable identity provider. With
trust mode on (an explicit setting, off by default, announced loudly at start-up by the
lead) a token's claims are decoded WITHOUT any signature, issuer, audience or expiry check;
an opaque token (Facebook, Amazon, Twitter, SAML) becomes its own subject. The pool's
configuration still decides which Logins keys are accepted, so a trusting pool behaves like a
real one in every other respect.
"""

from __future__ import annotations

from idpool.providers.oidc import decode_unverified
from idpool.providers.targets import Checked, Target


class TrustVerifier:
    """Never raises for a token: anyone can be anyone. Never enable in production."""

    async def check(self, target: Target, token: str) -> Checked:
        jwt = decode_unverified(token)
        claims = dict(jwt.claims) if jwt is not None else {}
        sub = claims.get("sub")
        subject = sub if isinstance(sub, str) and sub else token
        aud = claims.get("azp") or claims.get("aud")
        if isinstance(aud, list):
            aud = next((a for a in aud if isinstance(a, str)), None)
        audience = aud if isinstance(aud, str) else None
        if audience is None and target.audiences:
            audience = target.audiences[0]
        return Checked(subject=subject, claims=claims, audience=audience)
