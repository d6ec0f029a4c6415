"""Cognito user-pool ID tokens under a `cognito-idp.<region>.amazonaws.com/<userPoolId>` key.

Rules (docs/login-providers.md, "Provider types" and "Errors"): the token must come from a
Cognito user pool ("Not a Cognito token."), from exactly the pool named by the key ("Issuer
doesn't match providerName"), be signed with that pool's key, be an ID token (access tokens
have no `aud`: "Missing a required claim: aud") and be issued to one of the pool's configured
app clients ("Token is not from a supported provider of this identity pool."). Keys come from
`<iss>/.well-known/jwks.json` unless the providers configuration maps the issuer elsewhere.

ServerSideTokenCheck asks the user pool whether the user was signed out or deleted. Without a
user-pool API to ask, that check is a pluggable hook; with no hook configured the flag is
accepted and not enforced (documented in docs/login-providers.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from idpool.domain.errors import NotAuthorizedException
from idpool.providers.oidc import JwtChecker, decode_unverified, missing_claim
from idpool.providers.targets import Checked, Target

NOT_COGNITO = "Invalid login token. Not a Cognito token."
NOT_ID_TOKEN = "Invalid login token. Not an ID token."
COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[\w-]+_\w+$")


class TokenRevocationCheck(Protocol):
    """ServerSideTokenCheck: raise NotAuthorizedException when the user pool revoked the
    token (global sign-out, deleted or disabled user); return None otherwise."""

    async def __call__(
        self, provider_name: str, client_id: str | None, token: str, claims: Mapping[str, Any]
    ) -> None: ...


class UserPoolVerifier:
    def __init__(self, checker: JwtChecker, revocation: TokenRevocationCheck | None) -> None:
        self._checker = checker
        self._revocation = revocation

    async def check(self, target: Target, token: str) -> Checked:
        jwt = decode_unverified(token)
        if jwt is None:
            raise NotAuthorizedException(NOT_COGNITO)
        iss = jwt.claims.get("iss")
        # A test or offline issuer mapped in the configuration counts as a user pool too.
        if not isinstance(iss, str) or not (COGNITO_ISSUER.match(iss) or iss in target.issuers):
            raise NotAuthorizedException(NOT_COGNITO)
        # `aud` is checked before `token_use` so that an access token gets AWS's message.
        if "aud" not in jwt.claims:
            raise missing_claim("aud")
        checked = await self._checker.check(token, target, malformed=NOT_COGNITO)
        if checked.claims.get("token_use") != "id":
            raise NotAuthorizedException(NOT_ID_TOKEN)
        if self._revocation is not None and (
            checked.audience in target.revocation_checked or None in target.revocation_checked
        ):
            await self._revocation(target.key, checked.audience, token, checked.claims)
        return checked
