"""Unlinking and disabling on a real store: the last link gone disables the identity."""

from __future__ import annotations

import pytest

from idpool.domain.errors import (
    InvalidParameterException,
    NotAuthorizedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from idpool.domain.records import Caller
from tests.service.conftest import CALLER, DEVELOPER, FACEBOOK, GOOGLE, World


def test_unlinking_one_of_two_logins_keeps_the_identity(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        ids = world.service.identities
        alice = await ids.get_id(pool.pool_id, {FACEBOOK: "alice"})
        await ids.prove_verified(alice, {FACEBOOK: "alice", GOOGLE: "g"}, "GetId")
        world.clock.t += 3
        await ids.unlink(alice, {FACEBOOK: "alice"}, [GOOGLE])
        identity = await world.identity(alice)
        assert not identity.disabled and identity.modified_at == world.clock.t
        assert await world.links(alice) == [(FACEBOOK, "alice")]
        assert (await world.events(pool, alice))[-1] == ("unlinked", GOOGLE)

    world.run(scenario())


def test_unlinking_the_last_login_disables_the_identity_for_good(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        ids = world.service.identities
        alice = await ids.get_id(pool.pool_id, {FACEBOOK: "alice"})
        await ids.unlink(alice, {FACEBOOK: "alice"}, [FACEBOOK])
        assert (await world.identity(alice)).disabled
        assert await world.links(alice) == []
        assert (await world.events(pool, alice))[-1] == ("disabled", FACEBOOK)
        with pytest.raises(NotAuthorizedException, match="forbidden"):
            await ids.prove_verified(alice, None, "GetCredentialsForIdentity")
        # The login is free again: it makes a new identity, never the disabled one.
        assert await ids.get_id(pool.pool_id, {FACEBOOK: "alice"}) != alice

    world.run(scenario())


def test_unlink_needs_a_login_of_the_identity_and_a_linked_provider(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        ids = world.service.identities
        alice = await ids.get_id(pool.pool_id, {FACEBOOK: "alice"})
        await ids.get_id(pool.pool_id, {GOOGLE: "mallory"})
        with pytest.raises(NotAuthorizedException, match="Logins don't match"):
            await ids.unlink(alice, {GOOGLE: "mallory"}, [FACEBOOK])
        with pytest.raises(ResourceConflictException):
            await ids.unlink(alice, {FACEBOOK: "alice"}, [GOOGLE])
        with pytest.raises(InvalidParameterException):
            await ids.unlink(alice, {FACEBOOK: "alice"}, [DEVELOPER])
        assert await world.links(alice) == [(FACEBOOK, "alice")]
        assert not (await world.identity(alice)).disabled

    world.run(scenario())


def test_developer_unlink_of_the_last_user_disables_the_identity(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        dev = world.service.developer
        await dev.open_id_token(CALLER, pool.pool_id, None, {DEVELOPER: "u1"}, None, None)
        await dev.open_id_token(CALLER, pool.pool_id, None, {DEVELOPER: "u2"}, None, None)
        identity = await dev.merge(CALLER, pool.pool_id, DEVELOPER, "u1", "u2")
        await dev.unlink(CALLER, identity, pool.pool_id, DEVELOPER, "u1")
        assert not (await world.identity(identity)).disabled
        assert (await world.events(pool, identity))[-1] == ("unlinked", DEVELOPER)
        with pytest.raises(ResourceConflictException):
            await dev.unlink(CALLER, identity, pool.pool_id, DEVELOPER, "u1")
        await dev.unlink(CALLER, identity, pool.pool_id, DEVELOPER, "u2")
        assert (await world.identity(identity)).disabled
        assert (await world.events(pool, identity))[-1] == ("disabled", DEVELOPER)

    world.run(scenario())


def test_another_account_cannot_unlink_or_merge_in_the_pool(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        dev = world.service.developer
        identity, _ = await dev.open_id_token(
            CALLER, pool.pool_id, None, {DEVELOPER: "u1"}, None, None
        )
        stranger = Caller(account_id="222222222222", region="us-east-1", signed=True)
        with pytest.raises(ResourceNotFoundException):
            await dev.unlink(stranger, identity, pool.pool_id, DEVELOPER, "u1")
        with pytest.raises(ResourceNotFoundException):
            await dev.merge(stranger, pool.pool_id, DEVELOPER, "u1", "u1")
        assert await world.links(identity) == [(DEVELOPER, "u1")]

    world.run(scenario())


def test_deleted_identities_are_not_found_and_other_accounts_are_refused(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        ids = world.service.identities
        alice = await ids.get_id(pool.pool_id, {FACEBOOK: "alice"})
        stranger = Caller(account_id="222222222222", region="us-east-1", signed=True)
        assert await ids.delete(stranger, [alice]) == [(alice, "AccessDenied")]
        assert await ids.delete(CALLER, [alice, alice]) == []
        with pytest.raises(ResourceNotFoundException):
            await ids.prove_verified(alice, {FACEBOOK: "alice"}, "GetId")
        assert (await world.events(pool, alice))[-1] == ("deleted", "")

    world.run(scenario())
