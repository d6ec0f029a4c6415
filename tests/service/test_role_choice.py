"""Role choice through GetCredentialsForIdentity on a real store; the vended role is read back
from the audit trail (`credentials` events keep the role and the rule that chose it)."""

from __future__ import annotations

import pytest

from idpool.domain.errors import InvalidIdentityPoolConfigurationException, NotAuthorizedException
from idpool.domain.records import MappingRule, RoleMapping
from idpool.service.roles import RoleChoice
from tests.service.conftest import CALLER, FACEBOOK, GOOGLE, World

AUTH = "arn:aws:iam::111111111111:role/auth"
UNAUTH = "arn:aws:iam::111111111111:role/unauth"
ADMIN = "arn:aws:iam::111111111111:role/admin"


async def _vended_role(world: World, pool_id: str, identity_id: str) -> tuple[str, str]:
    async with world.store.transaction(readonly=True) as tx:
        pool = await tx.get_pool(pool_id)
        assert pool is not None
        events = await tx.list_events(pool.account_id, pool_id, identity_id, None, 1)
    assert events[0].kind == "credentials"
    return RoleChoice.split_detail(events[0].detail)


def test_guests_authenticated_users_and_rules_get_their_roles(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        rules = (MappingRule("group", "Equals", "admins", ADMIN),)
        await world.service.roles.set_roles(
            CALLER,
            pool.pool_id,
            {"authenticated": AUTH, "unauthenticated": UNAUTH},
            {FACEBOOK: RoleMapping("Rules", "AuthenticatedRole", rules)},
        )
        creds = world.service.credentials
        guest = await world.service.identities.get_id(pool.pool_id, None)
        await creds.get_credentials(guest, None, None)
        assert (await _vended_role(world, pool.pool_id, guest))[0] == UNAUTH

        admin = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "a;group=admins"})
        await creds.get_credentials(admin, {FACEBOOK: "a;group=admins"}, None)
        role, reason = await _vended_role(world, pool.pool_id, admin)
        assert role == ADMIN and "rule 1" in reason

        # No rule matches: AmbiguousRoleResolution AuthenticatedRole answers the default.
        plain = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "b;group=x"})
        await creds.get_credentials(plain, {FACEBOOK: "b;group=x"}, None)
        assert (await _vended_role(world, pool.pool_id, plain))[0] == AUTH

        # A provider without a mapping gets the authenticated role.
        other = await world.service.identities.get_id(pool.pool_id, {GOOGLE: "c"})
        await creds.get_credentials(other, {GOOGLE: "c"}, None)
        assert (await _vended_role(world, pool.pool_id, other))[0] == AUTH

    world.run(scenario())


def test_deny_resolution_and_a_missing_role_refuse_credentials(world: World) -> None:
    async def scenario() -> None:
        pool = await world.pool()
        rules = (MappingRule("group", "Equals", "admins", ADMIN),)
        await world.service.roles.set_roles(
            CALLER,
            pool.pool_id,
            {"authenticated": AUTH},
            {FACEBOOK: RoleMapping("Rules", "Deny", rules)},
        )
        creds = world.service.credentials
        plain = await world.service.identities.get_id(pool.pool_id, {FACEBOOK: "b;group=x"})
        with pytest.raises(NotAuthorizedException, match="denied this request"):
            await creds.get_credentials(plain, {FACEBOOK: "b;group=x"}, None)
        guest = await world.service.identities.get_id(pool.pool_id, None)
        with pytest.raises(InvalidIdentityPoolConfigurationException):
            await creds.get_credentials(guest, None, None)
        async with world.store.transaction(readonly=True) as tx:
            vended = await tx.list_events(pool.account_id, pool.pool_id, None, None, 100)
        assert not [e for e in vended if e.kind == "credentials"]

    world.run(scenario())
