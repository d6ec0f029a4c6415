"""The writes that take links away from an identity: a merge and an unlink (or disable).

Both are done by several operations (GetId and its kin merge owners of presented logins,
MergeDeveloperIdentities merges developer users; UnlinkIdentity and UnlinkDeveloperIdentity
remove links), so each lives here once, with its audit event. Callers keep the rule of
docs/reliability.md: a link is changed only while the identities it leaves and joins are
locked, so every identity passed in was read under its row lock in this transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from idpool.domain.ports import Transaction
from idpool.domain.records import Identity, Link


async def merge_away(tx: Transaction, loser: Identity, survivor_id: str, now: float) -> None:
    """Move every link of `loser` onto `survivor_id` and disable `loser` for good.

    The survivor's own row (authenticated, modified_at) is the caller's to update: what it
    becomes depends on what else the call links.
    """
    await tx.move_links(loser.identity_id, survivor_id)
    await tx.update_identity(replace(loser, disabled=True, modified_at=now))
    await tx.record_event(
        loser.account_id, loser.pool_id, loser.identity_id, "merged", survivor_id, now
    )


async def remove_links(
    tx: Transaction,
    identity: Identity,
    held: Sequence[Link],
    doomed: Sequence[Link],
    detail: str,
    now: float,
) -> Identity:
    """Delete `doomed` (among `held`, the identity's links); with none left it is disabled.

    An identity without links can never be proven again, so AWS disables it rather than
    leaving an authenticated identity anyone could claim as a guest.
    """
    for link in doomed:
        await tx.delete_link(link.pool_id, link.provider, link.subject)
    remaining = [ln for ln in held if ln not in doomed]
    updated = replace(identity, modified_at=now, disabled=not remaining)
    await tx.update_identity(updated)
    await tx.record_event(
        identity.account_id,
        identity.pool_id,
        identity.identity_id,
        "unlinked" if remaining else "disabled",
        detail,
        now,
    )
    return updated
