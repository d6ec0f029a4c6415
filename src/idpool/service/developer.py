"""Developer-authenticated identities: the developer token, lookup, merge and unlink.

These calls are SigV4-signed by the app's backend, which AWS trusts fully: a developer user
id is never verified, only checked against the pool's DeveloperProviderName.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from idpool.domain.errors import (
    UNSUPPORTED_DEVELOPER_PROVIDER,
    ExternalServiceException,
    InternalErrorException,
    InvalidParameterException,
    NotAuthorizedException,
    ResourceConflictException,
    ResourceNotFoundException,
    identity_not_found,
)
from idpool.domain.ports import Transaction
from idpool.domain.records import Caller, Identity, Link, Pool, VerifiedLogin
from idpool.service.context import ServiceDeps, in_transaction
from idpool.service.identities import cached_pool, owners_of
from idpool.service.link_plan import active, check_link_combination
from idpool.service.link_writes import merge_away, remove_links
from idpool.service.logins import link_logins, lock_owners, verify_logins
from idpool.service.paging import decode_cursor, encode_token, page_of
from idpool.service.pools import owned_pool
from idpool.service.tokens import TokenService, amr_for

DEFAULT_TOKEN_SECONDS = 900


@dataclass(frozen=True, slots=True)
class DeveloperLookup:
    identity_id: str
    developer_user_ids: tuple[str, ...]
    next_token: str | None


def _developer_login(pool: Pool, logins: Mapping[str, str]) -> tuple[VerifiedLogin, dict[str, str]]:
    """Split the developer entry from public ones; exactly one developer entry is required."""
    name = pool.developer_provider_name
    if name is None or name not in logins:
        raise NotAuthorizedException(UNSUPPORTED_DEVELOPER_PROVIDER)
    user_id = logins[name]
    login = VerifiedLogin(
        provider=name, subject=user_id, claims={}, amr=f"{name}:{pool.pool_id}:{user_id}"
    )
    return login, {k: v for k, v in logins.items() if k != name}


def _check_developer_provider(pool: Pool, provider: str) -> None:
    if pool.developer_provider_name != provider:
        raise NotAuthorizedException(UNSUPPORTED_DEVELOPER_PROVIDER)


def _owner(
    pool: Pool,
    owner_of: Mapping[tuple[str, str], str],
    locked: Mapping[str, Identity],
    key: tuple[str, str],
) -> Identity:
    """The locked identity owning a developer user; a user that is not linked is not found."""
    owner = owner_of.get(key)
    identity = locked.get(owner) if owner is not None else None
    if identity is None:
        raise ResourceNotFoundException(f"Developer user identifier '{key[1]}' not found.")
    return active(identity, identity.identity_id, pool)


class DeveloperService:
    def __init__(self, deps: ServiceDeps, tokens: TokenService) -> None:
        self._d = deps
        self._tokens = tokens

    async def _pool(self, caller: Caller, pool_id: str) -> Pool:
        """The caller's pool, from the short-lived cache (writes below re-read it)."""
        return await cached_pool(self._d, pool_id, caller.account_id)

    async def open_id_token(
        self,
        caller: Caller,
        pool_id: str,
        identity_id: str | None,
        logins: Mapping[str, str],
        principal_tags: Mapping[str, str] | None,
        token_duration: int | None,
    ) -> tuple[str, str]:
        pool = await self._pool(caller, pool_id)
        developer, others = _developer_login(pool, logins)
        try:
            public = await verify_logins(self._d, pool, others, own_tokens=False)
        except ExternalServiceException as exc:
            # The one operation with public logins that does not declare ExternalService-
            # Exception; InternalErrorException is declared, and SDKs retry it, as an
            # unreachable provider wants.
            raise InternalErrorException(exc.message) from exc
        verified = [developer, *public]
        owners = await owners_of(self._d, pool_id, verified)
        known = owners[0]
        if known is not None and all(o == known for o in owners) and identity_id in (None, known):
            # Every login already belongs to one identity: nothing to link, one read suffices.
            return known, await self._sign(pool, known, verified, principal_tags, token_duration)

        async def work(tx: Transaction) -> Identity:
            current = await owned_pool(tx, caller, pool_id)
            # link_logins locks the named identity with the logins' owners and refuses it
            # when it is missing (not found) or disabled (forbidden).
            return await link_logins(
                self._d, tx, current, identity_id, verified, developer_call=True
            )

        identity = await in_transaction(self._d.store, work)
        token = await self._sign(
            pool, identity.identity_id, verified, principal_tags, token_duration
        )
        return identity.identity_id, token

    async def _sign(
        self,
        pool: Pool,
        identity_id: str,
        verified: list[VerifiedLogin],
        principal_tags: Mapping[str, str] | None,
        token_duration: int | None,
    ) -> str:
        return await self._tokens.sign_for(
            pool,
            identity_id,
            amr_for(True, verified),
            token_duration or DEFAULT_TOKEN_SECONDS,
            principal_tags,
        )

    async def lookup(
        self,
        caller: Caller,
        pool_id: str,
        identity_id: str | None,
        developer_user_id: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> DeveloperLookup:
        if identity_id is None and developer_user_id is None:
            raise InvalidParameterException(
                "Either IdentityId or DeveloperUserIdentifier must be specified."
            )
        limit = max_results or 60

        async def work(tx: Transaction) -> DeveloperLookup:
            pool = await owned_pool(tx, caller, pool_id)
            target = identity_id
            if developer_user_id is not None:
                name = pool.developer_provider_name or ""
                links = await tx.find_links(pool_id, [(name, developer_user_id)])
                if not links:
                    raise ResourceNotFoundException(
                        f"Developer user identifier '{developer_user_id}' not found."
                    )
                if target is not None and links[0].identity_id != target:
                    raise ResourceConflictException(
                        "The developer user identifier is not linked to the given identity."
                    )
                target = links[0].identity_id
            assert target is not None
            identity = await tx.get_identity(target, account_id=caller.account_id)
            if identity is None or identity.pool_id != pool_id:
                raise identity_not_found(target)
            scope = f"developer:{caller.account_id}:{pool_id}:{target}"
            after = decode_cursor(scope, next_token)
            rows = await tx.developer_links(target, after, limit + 1)
            page, after_page = page_of(rows, limit, lambda ln: ln.subject)
            token = None if after_page is None else encode_token(scope, after_page)
            return DeveloperLookup(target, tuple(ln.subject for ln in page), token)

        return await in_transaction(self._d.store, work, readonly=True)

    async def merge(
        self,
        caller: Caller,
        pool_id: str,
        provider: str,
        source_user_id: str,
        destination_user_id: str,
    ) -> str:
        """Move the source developer user (and its identity's logins) onto the destination's."""

        async def work(tx: Transaction) -> str:
            pool = await owned_pool(tx, caller, pool_id)
            _check_developer_provider(pool, provider)
            keys = [(provider, source_user_id), (provider, destination_user_id)]
            owner_of, locked = await lock_owners(tx, pool_id, keys)
            source = _owner(pool, owner_of, locked, keys[0])
            destination = _owner(pool, owner_of, locked, keys[1])
            if source.identity_id == destination.identity_id:
                return destination.identity_id
            links = await tx.links_of([source.identity_id, destination.identity_id])
            check_link_combination(pool, links, [], self._d.quotas.logins_per_identity)
            now = self._d.clock.now()
            await merge_away(tx, source, destination.identity_id, now)
            await tx.update_identity(replace(destination, authenticated=True, modified_at=now))
            return destination.identity_id

        return await in_transaction(self._d.store, work)

    async def unlink(
        self, caller: Caller, identity_id: str, pool_id: str, provider: str, user_id: str
    ) -> None:
        async def work(tx: Transaction) -> None:
            pool = await owned_pool(tx, caller, pool_id)
            _check_developer_provider(pool, provider)
            identity = await tx.get_identity(
                identity_id, account_id=caller.account_id, for_update=True
            )
            if identity is None or identity.pool_id != pool_id:
                raise identity_not_found(identity_id)
            links: list[Link] = await tx.find_links(pool_id, [(provider, user_id)])
            if not links or links[0].identity_id != identity_id:
                raise ResourceConflictException(
                    "The developer user identifier is not linked to this identity."
                )
            held = await tx.links_of([identity_id])
            await remove_links(tx, identity, held, links, provider, self._d.clock.now())

        await in_transaction(self._d.store, work)
