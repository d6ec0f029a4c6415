"""GetCredentialsForIdentity: prove the identity, choose the role, vend credentials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from idpool.domain.errors import InternalErrorException
from idpool.domain.ports import VendRequest
from idpool.domain.records import Credentials, VerifiedLogin
from idpool.service.context import ServiceDeps
from idpool.service.identities import IdentityService
from idpool.service.roles import choose_role
from idpool.service.tokens import (
    OPEN_ID_TOKEN_SECONDS,
    TokenService,
    amr_for,
    principal_tags_from_claims,
)


def authentication_provider(logins: Sequence[VerifiedLogin]) -> str:
    """API Gateway's `cognitoAuthenticationProvider` for the logins ('' for a guest).

    A user-pool login reads `cognito-idp.<region>.amazonaws.com/<pool>,cognito-idp.<region>.
    amazonaws.com/<pool>:CognitoSignIn:<sub>`; any other login is its provider name.
    """
    parts: list[str] = []
    for login in logins:
        if login.provider.startswith("cognito-idp."):
            parts.append(f"{login.provider},{login.provider}:CognitoSignIn:{login.subject}")
        else:
            parts.append(login.provider)
    return ",".join(parts)


class CredentialService:
    def __init__(
        self, deps: ServiceDeps, identities: IdentityService, tokens: TokenService
    ) -> None:
        self._d = deps
        self._identities = identities
        self._tokens = tokens

    async def get_credentials(
        self,
        identity_id: str,
        logins: Mapping[str, str] | None,
        custom_role_arn: str | None,
    ) -> tuple[str, Credentials]:
        vendor = self._d.vendor
        if vendor is None:
            raise InternalErrorException("Credential vending is not configured on this server.")
        proof = await self._identities.prove_verified(
            identity_id, logins, "GetCredentialsForIdentity"
        )
        identity, pool = proof.identity, proof.pool
        authenticated = identity.authenticated and bool(proof.logins)
        role = choose_role(pool, authenticated, proof.logins, custom_role_arn)
        tags = principal_tags_from_claims(pool, proof.logins)
        token = None
        if vendor.needs_token:
            token = await self._tokens.sign(
                pool, identity, amr_for(authenticated, proof.logins), OPEN_ID_TOKEN_SECONDS, tags
            )
        credentials = await vendor.vend(
            VendRequest(
                role_arn=role,
                token=token,
                identity=identity,
                pool=pool,
                principal_tags=tags,
                authenticated=authenticated,
                duration_seconds=self._d.credential_seconds,
                provider=authentication_provider(proof.logins) if authenticated else "",
            )
        )
        return identity.identity_id, credentials
