"""Seed files: validation with line numbers, and idempotent application on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from idpool.domain.records import Caller
from idpool.seed import SeedError, apply_seed, load_seed
from idpool.storage.sql import SqlStore
from tests.storage.test_store_contract import service_on

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dev-seed.yaml"
POOL = "IdentityPoolName: x\n    AllowUnauthenticatedIdentities: true"


def test_example_seed_parses() -> None:
    seed = load_seed(str(EXAMPLE))
    assert [a.account_id for a in seed.accounts] == ["123456789012"]
    assert [p.pool_id for p in seed.pools] == [
        "us-east-1:11111111-1111-4111-8111-111111111111",
        "us-east-1:22222222-2222-4222-8222-222222222222",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "pools:\n  - IdentityPoolName: x\n",
            "seed.yaml:2: a pool needs 'AllowUnauthenticatedIdentities'",
        ),
        (
            "pools:\n  - IdentityPoolName: x\n    AllowUnauthenticatedIdentities: maybe\n",
            "seed.yaml:3: AllowUnauthenticatedIdentities: STRING_VALUE can not be converted"
            " to a Boolean",
        ),
        (
            f"pools:\n  - {POOL}\n    colour: red\n",
            "seed.yaml:2: unknown pool setting(s): colour (a pool takes id, account_id, region,"
            " CreateIdentityPool's members, Roles, RoleMappings and PrincipalTags;"
            " see docs/configuration.md)",
        ),
        (
            "pools:\n  - name: x\n    allow_unauthenticated: true\n",
            "seed.yaml:2: unknown pool setting(s): allow_unauthenticated, name (a pool takes",
        ),
        (
            f"pools:\n  - {POOL}\n    SupportedLoginProviders:\n      graph.facebook.com: ''\n",
            "seed.yaml:5: 1 validation error detected: Value '{graph.facebook.com=}' at"
            " 'supportedLoginProviders' failed to satisfy constraint: Map value must satisfy"
            " constraint: [Member must have length less than or equal to 128,"
            " Member must have length greater than or equal to 1",
        ),
        (
            f"pools:\n  - {POOL}\n    RoleMappings:\n      k:\n        Type: Sometimes\n",
            "seed.yaml:5: 1 validation error detected: Value 'Sometimes' at"
            " 'roleMappings.k.member.type' failed to satisfy constraint: Member must satisfy"
            " enum value set: [Token, Rules]",
        ),
        (
            f"pools:\n  - {POOL}\n    SupportedLoginProviders:\n      graph.facebook.com: 12\n",
            "seed.yaml:5: SupportedLoginProviders: NUMBER_VALUE can not be converted to a String"
            " (quote it)",
        ),
        (
            f"pools:\n  - {POOL}\n    PrincipalTags:\n      p:\n        UseDefaults: 1\n",
            "seed.yaml:6: UseDefaults: NUMBER_VALUE can not be converted to a Boolean",
        ),
        (
            "accounts:\n  - access_key_id: A\n    secret_access_key: s\n    account_id: 12\n",
            "seed.yaml:4: account_id must be 12 digits (quote it)",
        ),
        ("pool: []\n", "seed.yaml:1: unknown top-level key(s): pool"),
        (
            f"pools:\n  - id: not-an-id\n    {POOL}\n",
            "seed.yaml:2: id must look like <region>:<uuid>",
        ),
    ],
)
def test_errors_point_at_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    with pytest.raises(SeedError) as exc:
        load_seed(str(path))
    assert str(exc.value).startswith(f"{path}:{message.split(':', 1)[1]}")


def test_apply_is_idempotent_and_converges(
    open_store: Callable[[], Awaitable[SqlStore]], tmp_path: Path
) -> None:
    async def scenario() -> None:
        store = await open_store()
        service = service_on(store)
        seed = load_seed(str(EXAMPLE))
        first = await apply_seed(service, seed, "us-east-1")
        second = await apply_seed(service, seed, "us-east-1")
        assert [p.pool_id for p in first] == [p.pool_id for p in second]
        caller = Caller(account_id="123456789012", region="us-east-1")
        assert len((await service.pools.list_page(caller, 60, None)).items) == 2
        staff = await service.roles.get_roles(caller, second[1].pool_id)
        assert staff.roles == {"authenticated": "arn:aws:iam::123456789012:role/staff"}
        assert len(staff.role_mappings) == 1
        changed = tmp_path / "seed.yaml"
        changed.write_text(
            EXAMPLE.read_text().replace(
                "IdentityPoolName: staff", "IdentityPoolName: staff renamed"
            )
        )
        third = await apply_seed(service, load_seed(str(changed)), "us-east-1")
        assert third[1].name == "staff renamed"
        assert third[1].pool_id == first[1].pool_id
        await store.close()

    asyncio.run(scenario())
