"""The linking decision on plain values: no store, no event loop (service/link_plan.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest

from idpool.domain.errors import (
    DeveloperUserAlreadyRegisteredException,
    NotAuthorizedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from idpool.domain.records import Identity, Link, Pool, VerifiedLogin
from idpool.service.link_plan import LinkPlan, decide_links

NOW = 50.0
POOL = Pool(
    pool_id="us-east-1:p",
    account_id="111111111111",
    region="us-east-1",
    name="p",
    allow_unauthenticated=True,
    developer_provider_name="login.example",
    created_at=1.0,
    version=1,
)
FB, GG, DEV = "graph.facebook.com", "accounts.google.com", "login.example"


def ident(name: str, *, authenticated: bool = True, disabled: bool = False) -> Identity:
    return Identity(
        identity_id=f"us-east-1:{name}",
        pool_id=POOL.pool_id,
        account_id=POOL.account_id,
        created_at=1.0,
        modified_at=1.0,
        authenticated=authenticated,
        disabled=disabled,
    )


def login(provider: str, subject: str) -> VerifiedLogin:
    return VerifiedLogin(provider=provider, subject=subject)


def link(owner: Identity, provider: str, subject: str) -> Link:
    return Link(
        pool_id=POOL.pool_id,
        identity_id=owner.identity_id,
        provider=provider,
        subject=subject,
        developer=provider == DEV,
        created_at=1.0,
    )


def decide(
    logins: Sequence[VerifiedLogin],
    held: Sequence[Link] = (),
    locked: Sequence[Identity] = (),
    presented: str | None = None,
    *,
    limit: int | None = 20,
    developer_call: bool = False,
) -> LinkPlan:
    """The decision on a world where `held` are every link and `locked` the locked rows."""
    keys = {(lg.provider, lg.subject) for lg in logins}
    owner_of: Mapping[tuple[str, str], str] = {
        (ln.provider, ln.subject): ln.identity_id
        for ln in held
        if (ln.provider, ln.subject) in keys
    }
    return decide_links(
        POOL,
        presented,
        logins,
        owner_of,
        {i.identity_id: i for i in locked},
        held,
        new_identity_id=lambda: "us-east-1:new",
        now=NOW,
        limit=limit,
        developer_call=developer_call,
    )


def test_new_logins_make_a_new_authenticated_identity_with_every_link() -> None:
    plan = decide([login(FB, "a"), login(GG, "b")])
    assert plan.created and not plan.merged and not plan.changes_survivor
    assert plan.survivor == Identity("us-east-1:new", POOL.pool_id, POOL.account_id, NOW, NOW, True)
    assert [(ln.identity_id, ln.provider, ln.subject) for ln in plan.links] == [
        ("us-east-1:new", FB, "a"),
        ("us-east-1:new", GG, "b"),
    ]


def test_no_logins_make_a_guest() -> None:
    plan = decide([])
    assert plan.created and not plan.survivor.authenticated and plan.links == ()


def test_the_owner_of_a_login_answers_and_gains_the_new_one() -> None:
    alice = ident("alice")
    plan = decide([login(FB, "a"), login(GG, "g")], [link(alice, FB, "a")], [alice])
    assert not plan.created and plan.changes_survivor
    assert plan.survivor == replace(alice, modified_at=NOW)
    assert [(ln.provider, ln.subject) for ln in plan.links] == [(GG, "g")]


def test_nothing_new_changes_nothing() -> None:
    alice = ident("alice")
    plan = decide([login(FB, "a")], [link(alice, FB, "a")], [alice])
    assert plan.survivor == alice and not plan.changes_survivor


def test_a_named_guest_merges_into_the_owner_and_the_owner_answers() -> None:
    alice, guest = ident("alice"), ident("guest", authenticated=False)
    plan = decide([login(FB, "a")], [link(alice, FB, "a")], [alice, guest], guest.identity_id)
    assert plan.survivor.identity_id == alice.identity_id
    assert plan.merged == (guest,)


def test_the_named_identity_wins_when_it_owns_a_login_and_absorbs_the_other_owner() -> None:
    alice, bob = ident("alice"), ident("bob")
    held = [link(bob, GG, "g"), link(alice, FB, "a")]
    plan = decide([login(GG, "g"), login(FB, "a")], held, [alice, bob], alice.identity_id)
    assert plan.survivor.identity_id == alice.identity_id and plan.merged == (bob,)


def test_an_authenticated_identity_named_without_its_logins_is_refused() -> None:
    alice = ident("alice")
    with pytest.raises(NotAuthorizedException, match="Logins don't match"):
        decide([login(FB, "new")], [], [alice], alice.identity_id)


def test_a_named_authenticated_identity_is_answered_by_the_owner_not_merged() -> None:
    alice, bob = ident("alice"), ident("bob")
    held = [link(alice, FB, "a"), link(bob, GG, "g")]
    plan = decide([login(GG, "g")], held, [alice, bob], alice.identity_id)
    assert plan.survivor == bob and plan.merged == ()


def test_disabled_and_missing_identities_are_refused() -> None:
    gone = ident("gone", disabled=True)
    with pytest.raises(NotAuthorizedException, match="forbidden"):
        decide([], [], [gone], gone.identity_id)
    with pytest.raises(ResourceNotFoundException):
        decide([], [], [], "us-east-1:missing")
    # A login still pointing at a disabled identity is never handed out.
    with pytest.raises(NotAuthorizedException, match="forbidden"):
        decide([login(FB, "a")], [link(gone, FB, "a")], [gone])


def test_an_own_token_proves_its_identity_and_merges_nothing_away() -> None:
    alice, bob = ident("alice"), ident("bob")
    own = login(OWN_TOKEN_PROVIDER, alice.identity_id)
    plan = decide([own, login(GG, "g")], [], [alice], alice.identity_id)
    assert plan.survivor.identity_id == alice.identity_id
    assert [(ln.provider, ln.subject) for ln in plan.links] == [(GG, "g")]
    with pytest.raises(NotAuthorizedException, match="Logins don't match"):
        decide(
            [login(OWN_TOKEN_PROVIDER, bob.identity_id), login(FB, "a")],
            [link(alice, FB, "a")],
            [alice, bob],
            alice.identity_id,
        )


def test_a_developer_user_of_another_identity_cannot_be_claimed() -> None:
    alice, bob = ident("alice"), ident("bob")
    held = [link(bob, DEV, "u1"), link(alice, DEV, "u0")]
    with pytest.raises(DeveloperUserAlreadyRegisteredException):
        decide([login(DEV, "u1")], held, [alice, bob], alice.identity_id, developer_call=True)


def test_one_user_per_public_provider_and_the_link_quota() -> None:
    alice, bob = ident("alice"), ident("bob")
    held = [link(alice, FB, "a"), link(bob, FB, "b"), link(bob, GG, "g")]
    with pytest.raises(ResourceConflictException, match="different"):
        decide([login(FB, "a"), login(GG, "g")], held, [alice, bob], alice.identity_id)
    with pytest.raises(ResourceConflictException, match="at most 1"):
        decide([login(FB, "a"), login(GG, "new")], [link(alice, FB, "a")], [alice], limit=1)
    # Developer users do not count as a public provider: many per identity.
    devs = [link(alice, DEV, "u1")]
    plan = decide([login(DEV, "u1"), login(DEV, "u2")], devs, [alice])
    assert [ln.subject for ln in plan.links] == ["u2"] and plan.links[0].developer


def test_links_of_a_locked_identity_that_does_not_join_are_not_counted() -> None:
    alice, bob = ident("alice"), ident("bob")
    held = [link(alice, FB, "a"), link(alice, GG, "x"), link(bob, GG, "g")]
    # alice is named but bob owns the login: bob answers; alice's Google does not conflict.
    plan = decide([login(GG, "g"), login(FB, "other")], held, [alice, bob], alice.identity_id)
    assert plan.survivor.identity_id == bob.identity_id
