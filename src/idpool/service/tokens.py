"""OpenID tokens: the claims AWS writes (docs/tokens.md); the basic-flow gate of GetOpenIdToken."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from idpool.domain.claims import POOL_ARN_CLAIM, TAGS_CLAIM
from idpool.domain.errors import (
    CLASSIC_FLOW_DISABLED,
    CLASSIC_FLOW_ROLE_MAPPINGS,
    InvalidParameterException,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER, pool_arn
from idpool.domain.records import Identity, Pool, VerifiedLogin
from idpool.service.context import ServiceDeps
from idpool.service.identities import IdentityService
from idpool.service.rate_keys import RateKey

OPEN_ID_TOKEN_SECONDS = 600
MAX_TOKEN_SECONDS = 86_400

# Default principal tags per provider type when UseDefaults is true (docs/compatibility.md).
_DEFAULT_TAGS = {"client": "aud", "username": "sub"}
_AMAZON_DEFAULT_TAGS = {"client": "aud", "username": "user_id"}


def amr_for(authenticated: bool, logins: Sequence[VerifiedLogin] = ()) -> list[str]:
    """`amr`: the auth type, then one provider pair per login in request order."""
    if not authenticated:
        return ["unauthenticated"]
    amr = ["authenticated"]
    for login in logins:
        if login.provider == OWN_TOKEN_PROVIDER:
            carried = login.claims.get("amr")
            if isinstance(carried, list):
                amr.extend(str(v) for v in carried[1:] if str(v) not in amr)
            continue
        amr.append(login.provider)
        if login.amr:
            amr.append(login.amr)
    return amr


def principal_tags_from_claims(pool: Pool, logins: Sequence[VerifiedLogin]) -> dict[str, str]:
    """Tags mapped from token claims by the pool's principal-tag maps (first login wins)."""
    tags: dict[str, str] = {}
    for login in logins:
        # Maps are keyed by provider name, or by provider ARN for OIDC (the mapping key).
        tag_map = pool.principal_tag_maps.get(login.provider) or (
            pool.principal_tag_maps.get(login.mapping_key) if login.mapping_key else None
        )
        if tag_map is None:
            continue
        mapping: Mapping[str, str] = tag_map.tags
        if tag_map.use_defaults:
            mapping = _AMAZON_DEFAULT_TAGS if login.provider == "www.amazon.com" else _DEFAULT_TAGS
        for tag, claim in mapping.items():
            value = login.claims.get(claim)
            if isinstance(value, list):
                value = value[0] if value else None
            if value is not None and tag not in tags:
                tags[tag] = str(value)
    return tags


@functools.lru_cache(maxsize=4096)
def _pool_claims(issuer: str, region: str, account_id: str, pool_id: str) -> tuple[str, str]:
    """The claims every token of a pool shares (its ARN, built once per pool)."""
    return pool_id, pool_arn(region, account_id, pool_id)


def build_claims(
    *,
    issuer: str,
    pool: Pool,
    identity_id: str,
    amr: Sequence[str],
    issued_at: float,
    lifetime: int,
    principal_tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    if not 1 <= lifetime <= MAX_TOKEN_SECONDS:
        raise ValueError(f"token lifetime must be 1..{MAX_TOKEN_SECONDS} s, not {lifetime}")
    iat = int(issued_at)
    audience, arn = _pool_claims(issuer, pool.region, pool.account_id, pool.pool_id)
    # The order is Cognito's; the signer encodes this dict once (signing/jwt.py).
    claims: dict[str, Any] = {
        "sub": identity_id,
        "aud": audience,
        "amr": list(amr),
        "iss": issuer,
        POOL_ARN_CLAIM: arn,
        "exp": iat + lifetime,
        "iat": iat,
    }
    if principal_tags:
        claims[TAGS_CLAIM] = {"principal_tags": {k: [v] for k, v in principal_tags.items()}}
    return claims


class TokenService:
    def __init__(self, deps: ServiceDeps, identities: IdentityService) -> None:
        self._d = deps
        self._identities = identities

    async def sign(
        self,
        pool: Pool,
        identity: Identity,
        amr: Sequence[str],
        lifetime: int,
        principal_tags: Mapping[str, str] | None = None,
    ) -> str:
        return await self.sign_for(pool, identity.identity_id, amr, lifetime, principal_tags)

    async def sign_for(
        self,
        pool: Pool,
        identity_id: str,
        amr: Sequence[str],
        lifetime: int,
        principal_tags: Mapping[str, str] | None = None,
    ) -> str:
        signer = self._d.signer
        claims = build_claims(
            issuer=signer.issuer,
            pool=pool,
            identity_id=identity_id,
            amr=amr,
            issued_at=self._d.clock.now(),
            lifetime=lifetime,
            principal_tags=principal_tags,
        )
        return await signer.sign(claims)

    async def get_open_id_token(
        self, identity_id: str, logins: Mapping[str, str] | None
    ) -> tuple[str, str]:
        """Basic flow: refused when AllowClassicFlow is false or the pool has RoleMappings.

        The AllowClassicFlow check comes first (AWS documents no order; docs/compatibility.md); an
        unset AllowClassicFlow allows the flow, as AWS keeps it for old pools.
        """
        proof = await self._identities.prove_verified(identity_id, logins, RateKey.OPEN_ID_TOKEN)
        pool = proof.pool
        if pool.allow_classic_flow is False:
            raise InvalidParameterException(CLASSIC_FLOW_DISABLED)
        if pool.role_mappings:
            raise InvalidParameterException(CLASSIC_FLOW_ROLE_MAPPINGS)
        tags = principal_tags_from_claims(pool, proof.logins)
        token = await self.sign(
            pool,
            proof.identity,
            amr_for(proof.identity.authenticated, proof.logins),
            OPEN_ID_TOKEN_SECONDS,
            tags,
        )
        return proof.identity.identity_id, token
