"""GetCredentialsForIdentity: prove the identity, choose the role, vend credentials."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from idpool.domain.errors import InternalErrorException
from idpool.domain.ports import Transaction, VendRequest
from idpool.domain.records import Credentials, VerifiedLogin
from idpool.service.context import ServiceDeps, in_transaction
from idpool.service.identities import IdentityService
from idpool.service.rate_keys import RateKey
from idpool.service.roles import RoleChoice, choose_role
from idpool.service.tokens import (
    OPEN_ID_TOKEN_SECONDS,
    TokenService,
    amr_for,
    principal_tags_from_claims,
)

log = logging.getLogger("idpool.credentials")


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
        proof = await self._identities.prove_verified(identity_id, logins, RateKey.CREDENTIALS)
        identity, pool = proof.identity, proof.pool
        authenticated = identity.authenticated and bool(proof.logins)
        choice = choose_role(pool, authenticated, proof.logins, custom_role_arn)
        tags = principal_tags_from_claims(pool, proof.logins)
        token = None
        if vendor.needs_token:
            token = await self._tokens.sign(
                pool, identity, amr_for(authenticated, proof.logins), OPEN_ID_TOKEN_SECONDS, tags
            )
        credentials = await vendor.vend(
            VendRequest(
                role_arn=choice.role_arn,
                token=token,
                identity=identity,
                pool=pool,
                principal_tags=tags,
                authenticated=authenticated,
                duration_seconds=self._d.credential_seconds,
                provider=authentication_provider(proof.logins) if authenticated else "",
            )
        )
        await self._record(identity.account_id, pool.pool_id, identity.identity_id, choice)
        return identity.identity_id, credentials

    async def _record(
        self, account_id: str, pool_id: str, identity_id: str, choice: RoleChoice
    ) -> None:
        """The audit trail says which role was vended and by which rule (docs/console.md)."""
        detail = choice.detail()

        async def work(tx: Transaction) -> None:
            await tx.record_event(
                account_id, pool_id, identity_id, "credentials", detail, self._d.clock.now()
            )

        await in_transaction(self._d.store, work)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "role chosen",
                extra={
                    "identity_id": identity_id,
                    "role": choice.role_arn,
                    "rule": choice.describe(),
                },
            )
