"""Identity pools: create, describe, update, delete, list; tags; principal-tag maps.

Every admin call names the caller's account; a pool of another account answers exactly as a
missing one does, so pool ids cannot be probed across accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from idpool.domain.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
    pool_not_found,
)
from idpool.domain.ids import SAML_PROVIDER_ARN, is_region, parse_pool_arn, region_of
from idpool.domain.login_keys import PUBLIC_PROVIDERS, USER_POOL_PROVIDER_NAME, provider_names
from idpool.domain.pool_config import PoolSpec, configure
from idpool.domain.ports import PoolRows, Transaction
from idpool.domain.provider_urls import is_public_provider_url, oidc_issuer_of
from idpool.domain.records import Caller, Page, Pool, PrincipalTagMap
from idpool.service.context import PoolDeps, in_transaction
from idpool.service.paging import decode_keyset, encode_token, page_of


def check_tags(tags: Mapping[str, str], limit: int | None) -> None:
    if limit is not None and len(tags) > limit:
        raise InvalidParameterException(f"An identity pool can have at most {limit} tags.")
    for key in tags:
        if key.lower().startswith("aws:"):
            raise InvalidParameterException(
                f"Tag key '{key}' is invalid: keys beginning with 'aws:' are reserved."
            )


def _check_spec(
    spec: PoolSpec, user_pool_limit: int | None, operator_configured: Callable[[str], bool]
) -> None:
    providers = spec.cognito_identity_providers or ()
    if user_pool_limit is not None and len(providers) > user_pool_limit:
        # AWS's default quota (adjustable to 1,000); LimitExceededException is declared for
        # both CreateIdentityPool and UpdateIdentityPool.
        raise LimitExceededException(
            f"An identity pool can have at most {user_pool_limit} CognitoIdentityProviders."
        )
    for key in spec.supported_login_providers or {}:
        if key not in PUBLIC_PROVIDERS:
            raise InvalidParameterException(f"{key} is not a supported login provider.")
    for provider in spec.cognito_identity_providers or ():
        if not provider.provider_name or not USER_POOL_PROVIDER_NAME.fullmatch(
            provider.provider_name
        ):
            raise InvalidParameterException("Invalid Cognito Identity Provider")
    for arn in spec.open_id_connect_provider_arns or ():
        # A host/path idpool would fetch keys from: IAM's provider-URL shape, unless the
        # operator configured that provider (docs/compatibility.md).
        issuer = oidc_issuer_of(arn)
        if issuer is None or not (is_public_provider_url(issuer) or operator_configured(arn)):
            raise InvalidParameterException(f"Invalid OpenIdConnectProviderARN: {arn}")
    for arn in spec.saml_provider_arns or ():
        if not SAML_PROVIDER_ARN.fullmatch(arn):
            raise InvalidParameterException(f"Invalid SamlProviderARN: {arn}")
    if len(set(spec.open_id_connect_provider_arns or ())) != len(
        spec.open_id_connect_provider_arns or ()
    ):
        raise InvalidParameterException("OpenIdConnectProviderARNs contains duplicates.")


async def owned_pool(
    tx: PoolRows, caller: Caller, pool_id: str, *, for_update: bool = False
) -> Pool:
    """The caller's pool; another account's answers the same 'not found' as a missing one.

    The account is part of the query: another account's pool is never read.
    """
    pool = await tx.get_pool(pool_id, account_id=caller.account_id, for_update=for_update)
    if pool is None:
        raise pool_not_found(pool_id)
    return pool


class PoolService:
    def __init__(self, deps: PoolDeps) -> None:
        self._d = deps

    def _region(self, caller: Caller) -> str:
        region = caller.region or self._d.default_region
        return region if is_region(region) else self._d.default_region

    def _new_pool(self, caller: Caller, spec: PoolSpec, pool_id: str) -> Pool:
        _check_spec(
            spec, self._d.quotas.user_pool_providers_per_pool, self._d.oidc_provider_configured
        )
        check_tags(spec.tags or {}, self._d.quotas.tags_per_pool)
        blank = Pool(
            pool_id=pool_id,
            account_id=caller.account_id,
            region=region_of(pool_id),
            name=spec.name,
            allow_unauthenticated=spec.allow_unauthenticated,
            created_at=self._d.clock.now(),
            version=1,
        )
        return configure(blank, spec)

    async def create(self, caller: Caller, spec: PoolSpec) -> Pool:
        region = self._region(caller)
        pool = self._new_pool(caller, spec, f"{region}:{self._d.ids.uuid()}")
        limit = self._d.quotas.pools_per_account_region

        async def work(tx: Transaction) -> Pool:
            if limit is not None and await tx.count_pools(caller.account_id, region) >= limit:
                raise LimitExceededException(
                    f"The maximum number of identity pools ({limit}) for this account "
                    "in this region has been reached."
                )
            await tx.insert_pool(pool)
            return pool

        return await in_transaction(self._d.store, work)

    async def create_with_id(self, caller: Caller, spec: PoolSpec, pool_id: str) -> Pool:
        """Create a pool with a chosen id (seed files), or return it unchanged if it exists."""
        pool = self._new_pool(caller, spec, pool_id)

        async def work(tx: Transaction) -> Pool:
            existing = await tx.get_pool(pool_id)
            if existing is not None:
                return existing
            await tx.insert_pool(pool)
            return pool

        return await in_transaction(self._d.store, work)

    async def describe(self, caller: Caller, pool_id: str) -> Pool:
        async def work(tx: Transaction) -> Pool:
            return await owned_pool(tx, caller, pool_id)

        return await in_transaction(self._d.store, work, readonly=True)

    async def update(self, caller: Caller, pool_id: str, spec: PoolSpec) -> Pool:
        """Replace the pool's configuration, with AWS's two exceptions.

        An omitted DeveloperProviderName keeps the stored one (it cannot change once set),
        and omitted IdentityPoolTags keep the stored tags (tags are managed by TagResource).
        """
        _check_spec(
            spec, self._d.quotas.user_pool_providers_per_pool, self._d.oidc_provider_configured
        )
        if spec.tags is not None:
            check_tags(spec.tags, self._d.quotas.tags_per_pool)

        async def work(tx: Transaction) -> Pool:
            pool = await owned_pool(tx, caller, pool_id, for_update=True)
            developer = pool.developer_provider_name
            if spec.developer_provider_name is not None:
                if developer is not None and spec.developer_provider_name != developer:
                    raise InvalidParameterException(
                        "The developer provider name of an identity pool cannot be changed "
                        "once it is set."
                    )
                developer = spec.developer_provider_name
            kept = replace(
                spec,
                developer_provider_name=developer,
                tags=spec.tags if spec.tags is not None else pool.tags,
            )
            updated = replace(configure(pool, kept), version=pool.version + 1)
            await tx.update_pool(updated)
            return updated

        try:
            return await in_transaction(self._d.store, work)
        finally:
            self._d.pool_cache.forget(pool_id)

    async def delete(self, caller: Caller, pool_id: str) -> None:
        async def work(tx: Transaction) -> None:
            await owned_pool(tx, caller, pool_id, for_update=True)
            await tx.delete_pool(pool_id)

        try:
            await in_transaction(self._d.store, work)
        finally:
            self._d.pool_cache.forget(pool_id)

    async def list_page(
        self, caller: Caller, max_results: int, next_token: str | None
    ) -> Page[Pool]:
        region = self._region(caller)
        scope = f"pools:{caller.account_id}:{region}"
        after = decode_keyset(scope, next_token)

        async def work(tx: Transaction) -> list[Pool]:
            return await tx.list_pools(caller.account_id, region, after, max_results + 1)

        rows = await in_transaction(self._d.store, work, readonly=True)
        page, after_page = page_of(rows, max_results, lambda p: (p.created_at, p.pool_id))
        token = None if after_page is None else encode_token(scope, after_page)
        return Page(tuple(page), token)

    # tags --------------------------------------------------------------------------------

    def _pool_id_from_arn(self, caller: Caller, arn: str) -> str:
        parsed = parse_pool_arn(arn)
        if parsed is None:
            raise InvalidParameterException(f"Invalid resource ARN: {arn}")
        region, account, pool_id = parsed
        if account != caller.account_id or region_of(pool_id) != region:
            raise ResourceNotFoundException(f"Resource '{arn}' not found.")
        return pool_id

    async def _owned_by_arn(self, tx: Transaction, caller: Caller, arn: str) -> Pool:
        pool_id = self._pool_id_from_arn(caller, arn)
        self._d.pool_cache.forget(pool_id)
        pool = await tx.get_pool(pool_id, account_id=caller.account_id, for_update=True)
        if pool is None:
            raise ResourceNotFoundException(f"Resource '{arn}' not found.")
        return pool

    async def tag(self, caller: Caller, arn: str, tags: Mapping[str, str]) -> None:
        async def work(tx: Transaction) -> None:
            pool = await self._owned_by_arn(tx, caller, arn)
            merged = {**pool.tags, **tags}
            check_tags(merged, self._d.quotas.tags_per_pool)
            await tx.update_pool(replace(pool, tags=merged, version=pool.version + 1))

        await in_transaction(self._d.store, work)

    async def untag(self, caller: Caller, arn: str, keys: Sequence[str]) -> None:
        async def work(tx: Transaction) -> None:
            pool = await self._owned_by_arn(tx, caller, arn)
            remaining = {k: v for k, v in pool.tags.items() if k not in set(keys)}
            await tx.update_pool(replace(pool, tags=remaining, version=pool.version + 1))

        await in_transaction(self._d.store, work)

    async def list_tags(self, caller: Caller, arn: str) -> Mapping[str, str]:
        async def work(tx: Transaction) -> Mapping[str, str]:
            return (await self._owned_by_arn(tx, caller, arn)).tags

        return await in_transaction(self._d.store, work, readonly=True)

    # principal tag maps --------------------------------------------------------------------

    async def set_principal_tags(
        self,
        caller: Caller,
        pool_id: str,
        provider: str,
        use_defaults: bool | None,
        tags: Mapping[str, str] | None,
    ) -> PrincipalTagMap:
        async def work(tx: Transaction) -> PrincipalTagMap:
            pool = await owned_pool(tx, caller, pool_id, for_update=True)
            if provider not in provider_names(pool):
                raise InvalidParameterException(
                    f"{provider} is not a configured provider of this identity pool."
                )
            entry = PrincipalTagMap(use_defaults, dict(tags or {}))
            maps = {**pool.principal_tag_maps, provider: entry}
            await tx.update_pool(replace(pool, principal_tag_maps=maps, version=pool.version + 1))
            return entry

        return await in_transaction(self._d.store, work)

    async def get_principal_tags(
        self, caller: Caller, pool_id: str, provider: str
    ) -> PrincipalTagMap:
        """The stored map; a configured provider never set has no tags and UseDefaults false."""

        async def work(tx: Transaction) -> PrincipalTagMap:
            pool = await owned_pool(tx, caller, pool_id)
            if provider not in provider_names(pool):
                raise ResourceNotFoundException(
                    f"Provider '{provider}' is not configured for IdentityPool '{pool_id}'."
                )
            return pool.principal_tag_maps.get(provider) or PrincipalTagMap(False, {})

        return await in_transaction(self._d.store, work, readonly=True)
