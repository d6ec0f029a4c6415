"""What a call that presents logins does to identities, decided from locked rows alone.

`decide_links` is a pure function: given the rows `service/logins.py::lock_owners` read under
lock (the owners of the presented logins, the locked identities and their links) it returns a
`LinkPlan` — which identity answers, whether it is new, which identities merge into it and
which links it gains — or raises the error the call answers. `link_logins` then only writes
the plan. Keeping the decision free of I/O is what lets every rule be tested on plain values.

Rules (docs/compatibility.md, "Identities", where the choices are documented):
- a named identity (`presented_id`) or the subject of one of idpool's own tokens that is
  disabled (merged away, last login unlinked) is forbidden, and one that was deleted is not
  found: checked here, on the locked rows, not only when the token was verified;
- the identity that already owns a presented login wins; when the caller named an identity
  that owns one of the logins, that identity wins;
- other identities proven by the logins are merged into the winner (their links move, they
  become disabled); a named guest identity is merged into the winner too;
- an authenticated identity named without any of its logins is refused;
- one login per public provider per identity, at most `logins_per_identity` links.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from idpool.domain.errors import (
    LOGINS_DONT_MATCH,
    DeveloperUserAlreadyRegisteredException,
    NotAuthorizedException,
    ResourceConflictException,
    identity_forbidden,
    identity_not_found,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from idpool.domain.records import Identity, Link, Pool, VerifiedLogin

LoginKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class LinkPlan:
    """The writes of one linking call.

    `survivor` is the identity that answers, as it is once the plan is written; `created`
    says it must be inserted; `merged` are locked identities whose links move onto it and
    which become disabled; `links` are the survivor's new links.
    """

    survivor: Identity
    created: bool
    merged: tuple[Identity, ...]
    links: tuple[Link, ...]

    @property
    def changes_survivor(self) -> bool:
        """An existing survivor is written when it gains links or absorbs an identity."""
        return not self.created and bool(self.links or self.merged)


def key_of(login: VerifiedLogin) -> LoginKey:
    return login.provider, login.subject


def is_developer(login: VerifiedLogin, pool: Pool) -> bool:
    return login.provider == pool.developer_provider_name


def active(identity: Identity | None, identity_id: str, pool: Pool) -> Identity:
    """The identity a call names, refused when it is gone (not found) or disabled (forbidden)."""
    if identity is None or identity.pool_id != pool.pool_id:
        raise identity_not_found(identity_id)
    if identity.disabled:
        raise identity_forbidden(identity_id)
    return identity


def decide_links(
    pool: Pool,
    presented_id: str | None,
    logins: Sequence[VerifiedLogin],
    owner_of: Mapping[LoginKey, str],
    locked: Mapping[str, Identity],
    held: Sequence[Link],
    *,
    new_identity_id: Callable[[], str],
    now: float,
    limit: int | None,
    developer_call: bool = False,
) -> LinkPlan:
    """The plan for these verified logins, from rows read under lock (see the module doc).

    `owner_of` names the identity owning each presented login that is linked already,
    `locked` every identity locked for the call that still exists, `held` the links of the
    locked identities. `new_identity_id` is asked only when a new identity is made.
    """
    own_ids = [lg.subject for lg in logins if lg.provider == OWN_TOKEN_PROVIDER]
    real = [lg for lg in logins if lg.provider != OWN_TOKEN_PROVIDER]
    presented = None
    if presented_id is not None:
        presented = active(locked.get(presented_id), presented_id, pool)
    for own_id in own_ids:
        active(locked.get(own_id), own_id, pool)

    # Owners in request order (own tokens name their identity directly).
    owners: list[str] = []
    for login in logins:
        owner = (
            login.subject if login.provider == OWN_TOKEN_PROVIDER else owner_of.get(key_of(login))
        )
        if owner is not None and owner not in owners:
            owners.append(owner)

    if presented is not None and developer_call:
        for login in real:
            owner = owner_of.get(key_of(login))
            if is_developer(login, pool) and owner is not None and owner != presented.identity_id:
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
            identity_id=new_identity_id(),
            pool_id=pool.pool_id,
            account_id=pool.account_id,
            created_at=now,
            modified_at=now,
            authenticated=bool(real),
            disabled=False,
        )
        created = True

    loser_ids = [o for o in owners if o != survivor.identity_id and o not in own_ids]
    if (
        presented is not None
        and presented.identity_id != survivor.identity_id
        and not presented.authenticated
    ):
        loser_ids.append(presented.identity_id)
    if own_ids and any(i != survivor.identity_id for i in own_ids):
        # A token of ours proves one identity only; it never merges another one away.
        raise NotAuthorizedException(LOGINS_DONT_MATCH)

    joining = {survivor.identity_id, *loser_ids}
    existing = [] if created else [ln for ln in held if ln.identity_id in joining]
    new = [lg for lg in real if key_of(lg) not in owner_of]
    check_link_combination(pool, existing, new, limit)

    merged = tuple(locked[i] for i in loser_ids if i in locked)
    links = tuple(
        Link(
            pool_id=pool.pool_id,
            identity_id=survivor.identity_id,
            provider=login.provider,
            subject=login.subject,
            developer=is_developer(login, pool),
            created_at=now,
        )
        for login in new
    )
    if not created and (links or merged):
        survivor = replace(survivor, authenticated=True, modified_at=now)
    return LinkPlan(survivor=survivor, created=created, merged=merged, links=links)


def check_link_combination(
    pool: Pool, existing: Sequence[Link], new: Sequence[VerifiedLogin], limit: int | None
) -> None:
    """One user per public provider, and no more links than the quota allows.

    Both refusals are ResourceConflictException, declared by every operation that links.
    """
    subjects: dict[str, str] = {}
    for provider, subject, developer in [
        *((ln.provider, ln.subject, ln.developer) for ln in existing),
        *((lg.provider, lg.subject, is_developer(lg, pool)) for lg in new),
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
