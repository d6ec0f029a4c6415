"""The Logins map: verification, locking the owners, and linking/merging identities.

GetId, GetOpenIdToken, GetCredentialsForIdentity and the developer token operation all end
in `link_logins`: it locks, asks `link_plan.decide_links` (where the rules live once) and
writes the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from idpool.domain.errors import NotAuthorizedException
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from idpool.domain.ports import StoreConflict, Transaction
from idpool.domain.records import Identity, Pool, VerifiedLogin
from idpool.service.context import ServiceDeps
from idpool.service.link_plan import LinkPlan, decide_links, key_of
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

    Locks the owners of the logins and the identities the call names, decides on those rows
    (`service/link_plan.py::decide_links`, where the rules are) and writes the plan.
    """
    own_ids = [lg.subject for lg in logins if lg.provider == OWN_TOKEN_PROVIDER]
    named = [*([presented_id] if presented_id is not None else []), *own_ids]
    real = [key_of(lg) for lg in logins if lg.provider != OWN_TOKEN_PROVIDER]
    owner_of, locked = await lock_owners(tx, pool.pool_id, real, named)
    held = await tx.links_of(sorted(locked)) if locked else []
    now = deps.clock.now()
    plan = decide_links(
        pool,
        presented_id,
        logins,
        owner_of,
        locked,
        held,
        new_identity_id=lambda: f"{pool.region}:{deps.ids.uuid()}",
        now=now,
        limit=deps.quotas.logins_per_identity,
        developer_call=developer_call,
    )
    await write_plan(deps, tx, pool, plan, now)
    return plan.survivor


async def write_plan(
    deps: ServiceDeps, tx: Transaction, pool: Pool, plan: LinkPlan, now: float
) -> None:
    """The writes of a plan, in the order the lock rule needs (every identity is locked)."""
    survivor = plan.survivor
    if plan.created:
        await tx.insert_identity(survivor)
    for loser in plan.merged:
        await merge_away(tx, loser, survivor.identity_id, now)
    for link in plan.links:
        await tx.insert_link(link)
    if plan.created:
        if deps.on_identity_created is not None:
            deps.on_identity_created()
        kind = "authenticated" if survivor.authenticated else "unauthenticated"
        await tx.record_event(
            pool.account_id, pool.pool_id, survivor.identity_id, "created", kind, now
        )
    elif plan.changes_survivor:
        await tx.update_identity(survivor)
        if plan.links:
            providers = ",".join(sorted({ln.provider for ln in plan.links}))
            await tx.record_event(
                pool.account_id, pool.pool_id, survivor.identity_id, "linked", providers, now
            )
