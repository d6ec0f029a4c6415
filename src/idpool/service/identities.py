"""Identities: GetId, DescribeIdentity, ListIdentities, DeleteIdentities, UnlinkIdentity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from idpool.domain.errors import (
    LOGINS_DONT_MATCH,
    UNAUTH_NOT_SUPPORTED,
    InvalidParameterException,
    NotAuthorizedException,
    ResourceConflictException,
    ResourceNotFoundException,
    identity_forbidden,
    identity_not_found,
    pool_not_found,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER, region_of
from idpool.domain.ports import Transaction
from idpool.domain.records import Caller, Identity, IdentityView, Link, Page, Pool, VerifiedLogin
from idpool.service.context import ServiceDeps, in_transaction
from idpool.service.group_commit import GroupCommit
from idpool.service.link_plan import active
from idpool.service.link_writes import remove_links
from idpool.service.logins import link_logins, verify_logins
from idpool.service.paging import decode_keyset, encode_token, page_of
from idpool.service.pools import owned_pool
from idpool.service.rate_keys import RateKey


async def public_pool(tx: Transaction, pool_id: str, account_id: str | None = None) -> Pool:
    """The pool of an unsigned call: found by its globally unique id, in the id's region."""
    return _visible(await tx.get_pool(pool_id, account_id=account_id), pool_id, account_id)


def _visible(pool: Pool | None, pool_id: str, account_id: str | None) -> Pool:
    if pool is None or pool.region != region_of(pool_id):
        raise pool_not_found(pool_id)
    if account_id is not None and pool.account_id != account_id:
        raise pool_not_found(pool_id)
    return pool


async def cached_pool(deps: ServiceDeps, pool_id: str, account_id: str | None = None) -> Pool:
    """The pool for verifying a public call's logins, from the short-lived cache when fresh."""
    hit, pool = deps.pool_cache.get(pool_id)
    if not hit:
        generation = deps.pool_cache.generation()

        async def read(tx: Transaction) -> Pool | None:
            return await tx.get_pool(pool_id)

        pool = await in_transaction(deps.store, read, readonly=True)
        deps.pool_cache.put(pool_id, pool, generation)
    return _visible(pool, pool_id, account_id)


async def identity_and_pool(
    tx: Transaction, identity_id: str, *, for_update: bool = True
) -> tuple[Identity, Pool]:
    identity = await tx.get_identity(identity_id, for_update=for_update)
    if identity is None:
        raise identity_not_found(identity_id)
    pool = await tx.get_pool(identity.pool_id)
    if pool is None:
        raise identity_not_found(identity_id)
    return identity, pool


async def _read_identity(deps: ServiceDeps, identity_id: str) -> tuple[Identity, Pool]:
    async def read(tx: Transaction) -> Identity | None:
        return await tx.get_identity(identity_id)

    identity = await in_transaction(deps.store, read, readonly=True)
    if identity is None:
        raise identity_not_found(identity_id)
    try:
        pool = await cached_pool(deps, identity.pool_id)
    except ResourceNotFoundException:
        raise identity_not_found(identity_id) from None
    return identity, pool


async def owners_of(
    deps: ServiceDeps, pool_id: str, logins: Sequence[VerifiedLogin]
) -> list[str | None]:
    """The identity owning each verified login (None when new), read without locking."""
    real = [(lg.provider, lg.subject) for lg in logins if lg.provider != OWN_TOKEN_PROVIDER]

    async def read(tx: Transaction) -> dict[tuple[str, str], str]:
        found = await tx.find_links(pool_id, real)
        return {(ln.provider, ln.subject): ln.identity_id for ln in found}

    owner_of = await in_transaction(deps.store, read, readonly=True) if real else {}
    return [
        lg.subject if lg.provider == OWN_TOKEN_PROVIDER else owner_of.get((lg.provider, lg.subject))
        for lg in logins
    ]


@dataclass(frozen=True, slots=True)
class Proof:
    identity: Identity
    pool: Pool
    logins: tuple[VerifiedLogin, ...]


class IdentityService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._d = deps
        # New guests of concurrent GetId calls share one transaction (service/group_commit.py).
        self.new_guests: GroupCommit[Identity] = GroupCommit(deps.store)

    async def get_id(
        self, pool_id: str, logins: Mapping[str, str] | None, account_id: str | None = None
    ) -> str:
        """Guests get a new identity on every call; a login always yields the same identity.

        Tokens are verified before any transaction (verification may call a provider over
        the network, which must never happen while rows are locked). Logins that all belong
        to one identity already are answered from one read, without a write transaction.
        """
        pool = await cached_pool(self._d, pool_id, account_id)
        self._d.limit(pool.account_id, RateKey.GET_ID)
        verified = await verify_logins(self._d, pool, logins, own_tokens=False)
        if not verified and not pool.allow_unauthenticated:
            raise NotAuthorizedException(UNAUTH_NOT_SUPPORTED)
        if verified:
            owners = await owners_of(self._d, pool_id, verified)
            first = owners[0]
            if first is not None and all(o == first for o in owners):
                return first

        async def work(tx: Transaction) -> Identity:
            # The guests of one group commit (service/group_commit.py) read the pool once.
            memo = self.new_guests.memo(tx)
            current = memo.get((pool_id, account_id))
            if current is None:
                current = await public_pool(tx, pool_id, account_id)
                memo[(pool_id, account_id)] = current
            if not verified and not current.allow_unauthenticated:
                raise NotAuthorizedException(UNAUTH_NOT_SUPPORTED)
            return await link_logins(self._d, tx, current, None, verified)

        if not verified:
            return (await self.new_guests.run(work)).identity_id
        return (await in_transaction(self._d.store, work)).identity_id

    async def prove_verified(
        self, identity_id: str, logins: Mapping[str, str] | None, rate_key: RateKey
    ) -> Proof:
        """The identity a GetOpenIdToken / GetCredentialsForIdentity call may act as.

        A guest needs no logins (while the pool allows guests); an authenticated identity
        needs a valid login linked to it; logins owned by another identity answer with that
        identity (merging a named guest into it), as AWS does. Calls that change nothing are
        answered from reads alone.
        """
        identity, pool = await _read_identity(self._d, identity_id)
        self._d.limit(pool.account_id, rate_key)
        if not logins:
            if identity.disabled or identity.authenticated:
                raise identity_forbidden(identity_id)
            if not pool.allow_unauthenticated:
                raise NotAuthorizedException(UNAUTH_NOT_SUPPORTED)
            return Proof(identity, pool, ())
        verified = await verify_logins(self._d, pool, logins, own_tokens=True)
        owners = await owners_of(self._d, pool.pool_id, verified)
        if not identity.disabled and all(o == identity_id for o in owners):
            return Proof(identity, pool, tuple(verified))

        async def work(tx: Transaction) -> tuple[Identity, Pool]:
            # link_logins locks the identity (with the logins' owners, in one order) and
            # refuses it when it is disabled by then.
            _, current = await identity_and_pool(tx, identity_id, for_update=False)
            resolved = await link_logins(self._d, tx, current, identity_id, verified)
            return resolved, current

        identity, pool = await in_transaction(self._d.store, work)
        return Proof(identity, pool, tuple(verified))

    async def describe(self, caller: Caller, identity_id: str) -> IdentityView:
        async def work(tx: Transaction) -> IdentityView:
            identity = await tx.get_identity(identity_id, account_id=caller.account_id)
            if identity is None:
                raise identity_not_found(identity_id)
            return (await _views(tx, [identity]))[0]

        return await in_transaction(self._d.store, work, readonly=True)

    async def list_page(
        self,
        caller: Caller,
        pool_id: str,
        max_results: int,
        next_token: str | None,
        hide_disabled: bool,
    ) -> Page[IdentityView]:
        scope = f"identities:{caller.account_id}:{pool_id}:{hide_disabled}"
        after = decode_keyset(scope, next_token)

        async def work(tx: Transaction) -> tuple[list[IdentityView], tuple[float, str] | None]:
            await owned_pool(tx, caller, pool_id)
            rows = await tx.list_identities(pool_id, after, max_results + 1, hide_disabled)
            page, after_page = page_of(rows, max_results, _position)
            return await _views(tx, page), after_page

        views, after_page = await in_transaction(self._d.store, work, readonly=True)
        token = None if after_page is None else encode_token(scope, after_page)
        return Page(tuple(views), token)

    async def delete(self, caller: Caller, identity_ids: Sequence[str]) -> list[tuple[str, str]]:
        """Delete what the caller owns; other accounts' ids come back as AccessDenied.

        Ids that do not exist count as deleted (the call is idempotent).
        """

        async def work(tx: Transaction) -> list[tuple[str, str]]:
            unprocessed: list[tuple[str, str]] = []
            now = self._d.clock.now()
            # One locking read in id order: two deletes of overlapping lists cannot deadlock.
            found = {i.identity_id: i for i in await tx.lock_identities(list(identity_ids))}
            for identity_id in dict.fromkeys(identity_ids):
                identity = found.get(identity_id)
                if identity is None:
                    continue
                if identity.account_id != caller.account_id:
                    unprocessed.append((identity_id, "AccessDenied"))
                    continue
                await tx.delete_identity(identity_id)
                await tx.record_event(
                    identity.account_id, identity.pool_id, identity_id, "deleted", "", now
                )
            return unprocessed

        return await in_transaction(self._d.store, work)

    async def unlink(
        self, identity_id: str, logins: Mapping[str, str], logins_to_remove: Sequence[str]
    ) -> None:
        """Remove public logins; the caller proves control with a login linked to the identity."""
        pool = (await _read_identity(self._d, identity_id))[1]
        self._d.limit(pool.account_id, RateKey.UNLINK)
        verified = await verify_logins(self._d, pool, logins, own_tokens=True)

        async def work(tx: Transaction) -> None:
            _, current = await identity_and_pool(tx, identity_id, for_update=False)
            # The identity and every identity our own tokens name, locked in one order: a
            # disabled one is forbidden, a deleted one not found (as in link_logins).
            own_ids = [v.subject for v in verified if v.provider == OWN_TOKEN_PROVIDER]
            locked = {i.identity_id: i for i in await tx.lock_identities([identity_id, *own_ids])}
            identity = active(locked.get(identity_id), identity_id, current)
            for own_id in own_ids:
                active(locked.get(own_id), own_id, current)
            links = await tx.links_of([identity_id])
            mine = {(ln.provider, ln.subject) for ln in links}
            proven = any(
                (v.provider, v.subject) in mine
                or (v.provider == OWN_TOKEN_PROVIDER and v.subject == identity_id)
                for v in verified
            )
            if not proven:
                raise NotAuthorizedException(LOGINS_DONT_MATCH)
            doomed: list[Link] = []
            for provider in dict.fromkeys(logins_to_remove):
                if provider == current.developer_provider_name:
                    raise InvalidParameterException(
                        "Developer user identifiers are removed with UnlinkDeveloperIdentity."
                    )
                matching = [ln for ln in links if ln.provider == provider]
                if not matching:
                    raise ResourceConflictException(
                        f"The login provider '{provider}' is not linked to this identity."
                    )
                doomed.extend(matching)
            detail = ",".join(logins_to_remove)
            await remove_links(tx, identity, links, doomed, detail, self._d.clock.now())

        await in_transaction(self._d.store, work)


def _position(identity: Identity) -> tuple[float, str]:
    """An identity's place in a listing (the keyset of list_identities)."""
    return identity.created_at, identity.identity_id


async def _views(tx: Transaction, identities: Sequence[Identity]) -> list[IdentityView]:
    links = await tx.links_of([i.identity_id for i in identities])
    by_identity: dict[str, list[str]] = {}
    for link in links:
        providers = by_identity.setdefault(link.identity_id, [])
        if link.provider not in providers:
            providers.append(link.provider)
    return [
        IdentityView(identity, tuple(by_identity.get(identity.identity_id, ())))
        for identity in identities
    ]
