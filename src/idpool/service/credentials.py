"""GetCredentialsForIdentity: prove the identity, choose the role, vend credentials."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence

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

# Identities whose last recorded role choice this process remembers (about 200 bytes each).
ROLE_TRAIL_CAPACITY = 100_000


class RoleTrail:
    """The last role choice recorded for each identity, so an unchanged choice writes nothing.

    GetCredentialsForIdentity must stay write-free in the steady state, yet the audit trail
    says which role an identity received and why (docs/console.md#why-this-role). So a
    `credentials` event is recorded when the (role, rule) of an identity differs from the one
    this process last recorded for it. The memory is a bounded LRU per process, seeded lazily:
    an identity it does not know (new, evicted, after a restart, or first served by another
    worker or replica) gets one event, which is at worst a repeat of the last one.
    Runs on the event loop thread: no locks.
    """

    def __init__(self, capacity: int = ROLE_TRAIL_CAPACITY) -> None:
        self._capacity = capacity
        self._last: OrderedDict[str, str] = OrderedDict()

    def changed(self, identity_id: str, detail: str) -> bool:
        """True when `detail` must be recorded; it is remembered at once (claim first)."""
        if self._last.get(identity_id) == detail:
            self._last.move_to_end(identity_id)
            return False
        self._last[identity_id] = detail
        self._last.move_to_end(identity_id)
        if len(self._last) > self._capacity:
            self._last.popitem(last=False)
        return True

    def forget(self, identity_id: str, detail: str) -> None:
        """The write of `detail` failed: record it again next time."""
        if self._last.get(identity_id) == detail:
            del self._last[identity_id]


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
        self._trail = RoleTrail()

    async def get_credentials(
        self,
        identity_id: str,
        logins: Mapping[str, str] | None,
        custom_role_arn: str | None,
    ) -> tuple[str, Credentials]:
        vendor = self._d.vendor
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
        """The audit trail says which role was vended and by which rule (docs/console.md).

        Only a choice that differs from the identity's last recorded one is written
        (`RoleTrail`): repeated calls with the same outcome stay write-free.
        """
        detail = choice.detail()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "role chosen",
                extra={
                    "identity_id": identity_id,
                    "role": choice.role_arn,
                    "rule": choice.describe(),
                },
            )
        if not self._trail.changed(identity_id, detail):
            return

        async def work(tx: Transaction) -> None:
            await tx.record_event(
                account_id, pool_id, identity_id, "credentials", detail, self._d.clock.now()
            )

        try:
            await in_transaction(self._d.store, work)
        except BaseException:
            self._trail.forget(identity_id, detail)
            raise
