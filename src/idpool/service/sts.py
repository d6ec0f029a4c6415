"""idpool's own STS: AssumeRoleWithWebIdentity for tokens idpool issued, and who a caller is.

There is no IAM here, so which roles a token may assume is defined here (docs/credentials.md):

* a guest token (`amr` starts with `unauthenticated`): the pool's unauthenticated role, and only
  while the pool still allows guests;
* an authenticated token: the pool's authenticated role and every role its role mappings name;
* any token: the roles the operator declares in the roles file whose `trust` names the token's
  `aud` (and, when it lists any, one of its `amr` values) — IAM's
  `cognito-identity.amazonaws.com:aud` / `:amr` trust conditions.

The token must be signed by idpool, carry idpool's issuer, be unexpired, and name a pool and an
identity that still stand (a deleted, disabled or merged-away identity gets nothing).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idpool.domain.errors import (
    ASSUME_DENIED,
    ExpiredTokenException,
    InvalidIdentityTokenError,
    NotAuthorizedException,
    StsAccessDenied,
    StsValidationError,
)
from idpool.domain.ids import account_of_role
from idpool.domain.ports import CredentialVendor, IssuedTokenReader, Transaction, VendRequest
from idpool.domain.records import Credentials, Identity, Pool
from idpool.service.context import ServiceDeps, in_transaction
from idpool.service.role_policy import RolePolicy

DEFAULT_DURATION = 3600


@dataclass(frozen=True, slots=True)
class AssumedRole:
    """The AssumeRoleWithWebIdentity result, before the wire shapes it."""

    credentials: Credentials
    subject: str
    assumed_role_arn: str
    assumed_role_id: str
    provider: str
    audience: str


def role_id(role_arn: str) -> str:
    """A stable `AROA…` role id (21 characters, like IAM's), derived from the role ARN."""
    digest = hashlib.sha256(role_arn.encode()).digest()
    return "AROA" + base64.b32encode(digest).decode("ascii")[:17]


def pool_roles(pool: Pool, authenticated: bool) -> set[str]:
    """The roles of the pool itself that a token of this kind may assume."""
    if not authenticated:
        guest = pool.roles.get("unauthenticated")
        return {guest} if guest and pool.allow_unauthenticated else set()
    roles = {pool.roles["authenticated"]} if pool.roles.get("authenticated") else set()
    for mapping in pool.role_mappings.values():
        roles.update(rule.role_arn for rule in mapping.rules or ())
    return roles


class StsService:
    def __init__(
        self,
        deps: ServiceDeps,
        tokens: IssuedTokenReader,
        vendor: CredentialVendor,
        policy: RolePolicy,
    ) -> None:
        self._d = deps
        self._tokens = tokens
        self._vendor = vendor
        self._policy = policy

    async def assume_role_with_web_identity(
        self,
        token: str,
        role_arn: str,
        session_name: str,
        duration: int | None,
    ) -> AssumedRole:
        if account_of_role(role_arn) is None:
            raise StsValidationError("Request ARN is invalid")
        claims = await self._claims(token)
        audience = claims["aud"]
        amr = [str(value) for value in claims.get("amr") or []]
        authenticated = bool(amr) and amr[0] == "authenticated"
        pool, identity = await self._standing(claims["sub"], audience)
        allowed = pool_roles(pool, authenticated)
        if role_arn not in allowed and not self._policy.trusted(role_arn, audience, amr):
            raise StsAccessDenied(ASSUME_DENIED)
        credentials = await self._vendor.vend(
            VendRequest(
                role_arn=role_arn,
                token=None,
                identity=identity,
                pool=pool,
                principal_tags={},
                authenticated=authenticated,
                duration_seconds=duration or DEFAULT_DURATION,
                provider=",".join(amr[1:]) if authenticated else "",
                session_name=session_name,
            )
        )
        role_name = role_arn.rsplit("/", 1)[-1]
        return AssumedRole(
            credentials=credentials,
            subject=identity.identity_id,
            assumed_role_arn=(
                f"arn:aws:sts::{account_of_role(role_arn)}:assumed-role/{role_name}/{session_name}"
            ),
            assumed_role_id=f"{role_id(role_arn)}:{session_name}",
            provider=self._tokens.issuer,
            audience=audience,
        )

    async def _claims(self, token: str) -> Mapping[str, Any]:
        """Signature, issuer, expiry and the claims this STS needs, in STS's words."""
        try:
            claims = await self._tokens.signed_claims(token)
        except NotAuthorizedException as error:
            raise InvalidIdentityTokenError(error.message.replace("login token", "token")) from None
        if claims.get("iss") != self._tokens.issuer:
            raise InvalidIdentityTokenError(
                f"No OpenIDConnect provider found in your account for {_shown(claims.get('iss'))}"
            )
        exp = claims.get("exp")
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise InvalidIdentityTokenError("The token is missing the required claim: exp")
        now = int(self._d.clock.now())
        if now >= exp:
            raise ExpiredTokenException(
                f"Token expired: current date/time {now} must be before the expiration "
                f"date/time {exp}"
            )
        for name in ("aud", "sub"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise InvalidIdentityTokenError(f"The token is missing the required claim: {name}")
        return claims

    async def _standing(self, identity_id: str, pool_id: str) -> tuple[Pool, Identity]:
        """The pool and identity the token names, if both still stand."""

        async def work(tx: Transaction) -> tuple[Pool | None, Identity | None]:
            return await tx.get_pool(pool_id), await tx.get_identity(identity_id)

        pool, identity = await in_transaction(self._d.store, work, readonly=True)
        if pool is None:
            raise InvalidIdentityTokenError("The identity pool of this token does not exist.")
        if identity is None or identity.disabled or identity.pool_id != pool_id:
            # A deleted, disabled or merged-away identity: its old tokens assume nothing.
            raise InvalidIdentityTokenError(
                f"The identity of this token is no longer valid: {identity_id}"
            )
        return pool, identity


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else "<missing iss>"
