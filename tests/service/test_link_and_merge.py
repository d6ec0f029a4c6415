"""Linking and merging on a real store, through the service (no HTTP).

The rules are `service/logins.py::link_logins`'s docstring; the end-to-end tests prove the
same through boto3, these prove each rule alone and in milliseconds.
"""

from __future__ import annotations

import pytest

from idpool.domain.errors import (
    DeveloperUserAlreadyRegisteredException,
    NotAuthorizedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from tests.service.conftest import CALLER, DEVELOPER, FACEBOOK, GOOGLE, World


def test_a_new_login_makes_one_authenticated_identity_and_keeps_it(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        first = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        again = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        assert first == again
        identity = await world.identity(first)
        assert identity.authenticated and not identity.disabled
        assert await world.links(first) == [(FACEBOOK, "alice")]
        assert await world.events(pool, first) == [("created", "authenticated")]

    world.run(scenario())


def test_guests_get_a_new_unauthenticated_identity_each_time(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        one = await world.service.identities.get_id(pool.pool_id, None)
        two = await world.service.identities.get_id(pool.pool_id, None)
        assert one != two
        assert not (await world.identity(one)).authenticated
        assert await world.events(pool, one) == [("created", "unauthenticated")]

    world.run(scenario())


def test_a_second_login_is_linked_to_the_identity_that_owns_the_first(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        owner = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        world.clock.t += 5
        proof = await world.service.identities.prove_verified(
            owner, {FACEBOOK: "alice", GOOGLE: "alice-g"}, "GetCredentialsForIdentity"
        )
        assert proof.identity.identity_id == owner
        assert await world.links(owner) == [(GOOGLE, "alice-g"), (FACEBOOK, "alice")]
        assert (await world.identity(owner)).modified_at == world.clock.t
        assert (await world.events(pool, owner))[-1] == ("linked", GOOGLE)

    world.run(scenario())


def test_logins_of_two_identities_merge_into_the_named_one(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        alice = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        other = await world.service.identities.get_id(pool.pool_id, {GOOGLE: "alice-g"})
        proof = await world.service.identities.prove_verified(
            alice, {FACEBOOK: "alice", GOOGLE: "alice-g"}, "GetOpenIdToken"
        )
        assert proof.identity.identity_id == alice
        assert await world.links(alice) == [(GOOGLE, "alice-g"), (FACEBOOK, "alice")]
        assert await world.links(other) == []
        assert (await world.identity(other)).disabled
        assert (await world.events(pool, other))[-1] == ("merged", alice)
        # The loser is gone for good: named again it is forbidden, its login answers alice.
        with pytest.raises(NotAuthorizedException, match="forbidden"):
            await world.service.identities.prove_verified(
                other, {GOOGLE: "alice-g"}, "GetOpenIdToken"
            )
        assert await world.service.identities.get_id(pool.pool_id, {GOOGLE: "alice-g"}) == alice

    world.run(scenario())


def test_a_named_guest_is_merged_into_the_owner_of_the_login(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        owner = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        guest = await world.service.identities.get_id(pool.pool_id, None)
        proof = await world.service.identities.prove_verified(
            guest, {FACEBOOK: "alice"}, "GetCredentialsForIdentity"
        )
        assert proof.identity.identity_id == owner
        assert (await world.identity(guest)).disabled
        assert (await world.events(pool, guest))[-1] == ("merged", owner)

    world.run(scenario())


def test_a_named_guest_with_a_new_login_becomes_authenticated(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        guest = await world.service.identities.get_id(pool.pool_id, None)
        proof = await world.service.identities.prove_verified(
            guest, {FACEBOOK: "bob"}, "GetCredentialsForIdentity"
        )
        assert proof.identity.identity_id == guest
        assert proof.identity.authenticated
        assert (await world.identity(guest)).authenticated
        assert await world.links(guest) == [(FACEBOOK, "bob")]

    world.run(scenario())


def test_an_authenticated_identity_named_without_its_logins_is_refused(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        alice = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        with pytest.raises(NotAuthorizedException, match="Logins don't match"):
            await world.service.identities.prove_verified(alice, {GOOGLE: "mallory"}, "GetId")
        assert await world.links(alice) == [(FACEBOOK, "alice")]

    world.run(scenario())


def test_an_own_token_never_merges_another_identity_away(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        alice = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        bob = await world.service.identities.get_id(pool.pool_id, {GOOGLE: "bob"})
        with pytest.raises(NotAuthorizedException, match="Logins don't match"):
            await world.service.identities.prove_verified(
                alice, {OWN_TOKEN_PROVIDER: bob, FACEBOOK: "alice"}, "GetOpenIdToken"
            )
        assert not (await world.identity(bob)).disabled

    world.run(scenario())


def test_a_merge_that_would_give_one_identity_two_facebook_users_is_refused(
    world: World,
) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        alice = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "alice"})
        bob = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "bob"})
        await world.service.identities.prove_verified(
            bob, {FACEBOOK: "bob", GOOGLE: "bob-g"}, "GetId"
        )
        with pytest.raises(ResourceConflictException, match=r"different graph\.facebook\.com"):
            await world.service.identities.prove_verified(
                alice, {FACEBOOK: "alice", GOOGLE: "bob-g"}, "GetId"
            )
        assert not (await world.identity(bob)).disabled
        assert await world.links(bob) == [(GOOGLE, "bob-g"), (FACEBOOK, "bob")]

    world.run(scenario())


def test_developer_merge_moves_the_source_identity_onto_the_destination(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        dev = world.service.developer
        source, _ = await dev.open_id_token(
            CALLER, pool.pool_id, None, {DEVELOPER: "u1", FACEBOOK: "alice"}, None, None
        )
        destination, _ = await dev.open_id_token(
            CALLER, pool.pool_id, None, {DEVELOPER: "u2"}, None, None
        )
        world.clock.t += 1
        merged = await dev.merge(CALLER, pool.pool_id, DEVELOPER, "u1", "u2")
        assert merged == destination
        assert await world.links(destination) == [
            (FACEBOOK, "alice"),
            (DEVELOPER, "u1"),
            (DEVELOPER, "u2"),
        ]
        assert (await world.identity(source)).disabled
        survivor = await world.identity(destination)
        assert survivor.authenticated and survivor.modified_at == world.clock.t
        assert (await world.events(pool, source))[-1] == ("merged", destination)
        # Merging a user with itself changes nothing; an unknown user is not found.
        assert await dev.merge(CALLER, pool.pool_id, DEVELOPER, "u1", "u2") == destination
        with pytest.raises(ResourceNotFoundException):
            await dev.merge(CALLER, pool.pool_id, DEVELOPER, "nobody", "u2")

    world.run(scenario())


def test_developer_merge_keeps_one_user_per_public_provider(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        dev = world.service.developer
        await dev.open_id_token(
            CALLER, pool.pool_id, None, {DEVELOPER: "u1", FACEBOOK: "a"}, None, None
        )
        await dev.open_id_token(
            CALLER, pool.pool_id, None, {DEVELOPER: "u2", FACEBOOK: "b"}, None, None
        )
        with pytest.raises(ResourceConflictException):
            await dev.merge(CALLER, pool.pool_id, DEVELOPER, "u1", "u2")

    world.run(scenario())


def test_a_developer_user_of_another_identity_cannot_be_claimed(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        dev = world.service.developer
        await dev.open_id_token(CALLER, pool.pool_id, None, {DEVELOPER: "u1"}, None, None)
        other, _ = await dev.open_id_token(
            CALLER, pool.pool_id, None, {DEVELOPER: "u2"}, None, None
        )
        with pytest.raises(DeveloperUserAlreadyRegisteredException):
            await dev.open_id_token(CALLER, pool.pool_id, other, {DEVELOPER: "u1"}, None, None)

    world.run(scenario())
