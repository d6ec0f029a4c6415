"""The Logins map: verification and linking/merging identities.

GetId, GetOpenIdToken, GetCredentialsForIdentity and the developer token operation all end
in `link_logins`, so the linking and merging rules live here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from idpool.domain.errors import (
    LOGINS_DONT_MATCH,
    DeveloperUserAlreadyRegisteredException,
    NotAuthorizedException,
    ResourceConflictException,
    identity_forbidden,
    identity_not_found,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from idpool.domain.ports import StoreConflict, Transaction
from idpool.domain.records import Identity, Link, Pool, VerifiedLogin
from idpool.service.context import ServiceDeps
from idpool.service.link_writes import merge_away


async def verify_logins(
    deps: ServiceDeps, pool: Pool, logins: Mapping[str, str] | None, *, own_tokens: bool
) -> list[VerifiedLogin]:
    """Verify every entry; one failure fails the call (as AWS does).

    Which keys the pool accepts is the verifier's decision (providers/targets.py routes each
    key by the pool's configuration and refuses the rest, the developer provider included:
    developer user ids only arrive through the SigV4-signed developer operation).
    """
    if not logins:
        return []
    if not own_tokens and OWN_TOKEN_PROVIDER in logins:
        raise NotAuthorizedException("Invalid login token. Can't pass in a Cognito token.")
    return [await deps.logins.verify(pool, key, token) for key, token in logins.items()]


def _key(login: VerifiedLogin) -> tuple[str, str]:
    return login.provider, login.subject


def _is_developer(login: VerifiedLogin, pool: Pool) -> bool:
    return login.provider == pool.developer_provider_name


# How often the owners of a login may change under us before the transaction starts over.
_LOCK_ROUNDS = 4


async def lock_owners(
    tx: Transaction, pool_id: str, keys: Sequence[tuple[str, str]], also: Sequence[str] = ()
) -> tuple[dict[tuple[str, str], str], dict[str, Identity]]:
    """The owner of each login in `keys`, read again once those identities (and `also`) are locked.

    The rule every writer keeps (docs/reliability.md): a link is inserted, moved or deleted
    only while the identities it leaves and joins are locked. So once the owners are locked,
    reading the links again gives owners that cannot change before this transaction ends; a
    link that moved while we waited for a lock names a new owner, which is locked in turn.
    Deciding on the first, unlocked read is what let a merge's loser (disabled meanwhile) gain
    logins on PostgreSQL. Returns the owners and every locked identity that still exists.
    """
    locked: dict[str, Identity] = {}
    asked: set[str] = set()
    for _ in range(_LOCK_ROUNDS):
        found = await tx.find_links(pool_id, keys) if keys else []
        owner_of = {(ln.provider, ln.subject): ln.identity_id for ln in found}
        wanted = ({*owner_of.values(), *also}) - asked
        if not wanted:
            return owner_of, locked
        for identity in await tx.lock_identities(sorted(wanted)):
            locked[identity.identity_id] = identity
        asked |= wanted
    raise StoreConflict("the owners of these logins kept changing; starting over")


def active(identity: Identity | None, identity_id: str, pool: Pool) -> Identity:
    """The identity a call names, refused when it is gone (not found) or disabled (forbidden)."""
    if identity is None or identity.pool_id != pool.pool_id:
        raise identity_not_found(identity_id)
    if identity.disabled:
        raise identity_forbidden(identity_id)
    return identity


async def link_logins(
    deps: ServiceDeps,
    tx: Transaction,
    pool: Pool,
    presented_id: str | None,
    logins: Sequence[VerifiedLogin],
    *,
    developer_call: bool = False,
) -> Identity:
    """Find or create the identity these logins prove, linking new logins and merging owners.

    Rules (reference §3.4-3.6, choices documented in docs/compatibility.md):
    - a named identity (`presented_id`) or the subject of one of idpool's own tokens that is
      disabled (merged away, last login unlinked) is forbidden, and one that was deleted is
      not found: checked here, under the row lock, not only when the token was verified;
    - the identity that already owns a presented login wins; when the caller named an
      identity that owns one of the logins, that identity wins;
    - other identities proven by the logins are merged into the winner (their links move,
      they become disabled); a named guest identity is merged into the winner too;
    - an authenticated identity named without any of its logins is refused;
    - one login per public provider per identity, at most `logins_per_identity` links.
    """
    now = deps.clock.now()
    own_ids = [lg.subject for lg in logins if lg.provider == OWN_TOKEN_PROVIDER]
    real = [lg for lg in logins if lg.provider != OWN_TOKEN_PROVIDER]
    named = [*([presented_id] if presented_id is not None else []), *own_ids]
    owner_of, locked = await lock_owners(tx, pool.pool_id, [_key(lg) for lg in real], named)
    presented = None
    if presented_id is not None:
        presented = active(locked.get(presented_id), presented_id, pool)
    for own_id in own_ids:
        active(locked.get(own_id), own_id, pool)

    # Owners in request order (own tokens name their identity directly).
    owners: list[str] = []
    for login in logins:
        owner = login.subject if login.provider == OWN_TOKEN_PROVIDER else owner_of.get(_key(login))
        if owner is not None and owner not in owners:
            owners.append(owner)

    if presented is not None and developer_call:
        for login in real:
            owner = owner_of.get(_key(login))
            if _is_developer(login, pool) and owner is not None and owner != presented.identity_id:
                raise DeveloperUserAlreadyRegisteredException(
                    "The developer user identifier is already registered with Cognito."
                )

    survivor: Identity | None
    created = False
    if presented is not None and presented.identity_id in owners:
        survivor = presented
    elif owners:
        survivor = locked.get(owners[0])
        if survivor is None or survivor.pool_id != pool.pool_id:
            raise NotAuthorizedException(LOGINS_DONT_MATCH)
        # A login never belongs to a disabled identity (the invariant); refuse rather than
        # hand out an identity that rows written before this rule held may still point at.
        active(survivor, survivor.identity_id, pool)
    elif presented is not None:
        if presented.authenticated:
            raise NotAuthorizedException(LOGINS_DONT_MATCH)
        survivor = presented
    else:
        survivor = Identity(
            identity_id=f"{pool.region}:{deps.ids.uuid()}",
            pool_id=pool.pool_id,
            account_id=pool.account_id,
            created_at=now,
            modified_at=now,
            authenticated=bool(real),
            disabled=False,
        )
        created = True

    losers = [o for o in owners if o != survivor.identity_id and o not in own_ids]
    if (
        presented is not None
        and presented.identity_id != survivor.identity_id
        and not presented.authenticated
    ):
        losers.append(presented.identity_id)
    if own_ids and any(i != survivor.identity_id for i in own_ids):
        # A token of ours proves one identity only; it never merges another one away.
        raise NotAuthorizedException(LOGINS_DONT_MATCH)

    existing = [] if created else await tx.links_of([survivor.identity_id, *losers])
    new = [lg for lg in real if _key(lg) not in owner_of]
    check_link_combination(pool, existing, new, deps.quotas.logins_per_identity)

    if created:
        await tx.insert_identity(survivor)
    for loser_id in losers:
        loser = locked.get(loser_id)
        if loser is None:
            continue
        await merge_away(tx, loser, survivor.identity_id, now)
    for login in new:
        await tx.insert_link(
            Link(
                pool_id=pool.pool_id,
                identity_id=survivor.identity_id,
                provider=login.provider,
                subject=login.subject,
                developer=_is_developer(login, pool),
                created_at=now,
            )
        )
    if created:
        if deps.on_identity_created is not None:
            deps.on_identity_created()
        await tx.record_event(
            pool.account_id,
            pool.pool_id,
            survivor.identity_id,
            "created",
            "authenticated" if real else "unauthenticated",
            now,
        )
    elif new or losers:
        survivor = replace(survivor, authenticated=True, modified_at=now)
        await tx.update_identity(survivor)
        if new:
            await tx.record_event(
                pool.account_id,
                pool.pool_id,
                survivor.identity_id,
                "linked",
                ",".join(sorted({lg.provider for lg in new})),
                now,
            )
    return survivor


def check_link_combination(
    pool: Pool, existing: Sequence[Link], new: Sequence[VerifiedLogin], limit: int | None
) -> None:
    """One user per public provider, and no more links than the quota allows.

    Both refusals are ResourceConflictException, declared by every operation that links.
    """
    subjects: dict[str, str] = {}
    for provider, subject, developer in [
        *((ln.provider, ln.subject, ln.developer) for ln in existing),
        *((lg.provider, lg.subject, _is_developer(lg, pool)) for lg in new),
    ]:
        if developer:
            continue
        seen = subjects.setdefault(provider, subject)
        if seen != subject:
            raise ResourceConflictException(
                f"A different {provider} login is already linked to this identity."
            )
    if limit is not None and len(existing) + len(new) > limit:
        # ResourceConflictException, not LimitExceededException: it is the error every
        # linking operation declares in the model (GetOpenIdToken, GetCredentialsForIdentity,
        # GetOpenIdTokenForDeveloperIdentity and MergeDeveloperIdentities declare no
        # LimitExceededException, and SDKs retry that code as throttling).
        raise ResourceConflictException(f"An identity can have at most {limit} linked logins.")
