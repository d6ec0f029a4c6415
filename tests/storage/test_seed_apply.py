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
        ("pools:\n  - name: x\n", "seed.yaml:2: a pool needs 'allow_unauthenticated'"),
        (
            "pools:\n  - name: x\n    allow_unauthenticated: maybe\n",
            "seed.yaml:3: allow_unauthenticated must be true or false",
        ),
        (
            "pools:\n  - name: x\n    allow_unauthenticated: true\n    colour: red\n",
            "seed.yaml:2: unknown pool setting(s): colour",
        ),
        (
            "accounts:\n  - access_key_id: A\n    secret_access_key: s\n    account_id: 12\n",
            "seed.yaml:4: account_id must be 12 digits (quote it)",
        ),
        ("pool: []\n", "seed.yaml:1: unknown top-level key(s): pool"),
        (
            "pools:\n  - id: not-an-id\n    name: x\n    allow_unauthenticated: true\n",
            "seed.yaml:2: id must look like <region>:<uuid>",
        ),
    ],
)
def test_errors_point_at_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(text)
    with pytest.raises(SeedError) as exc:
        load_seed(str(path))
    assert str(exc.value).endswith(message.split(":", 1)[1]) and str(path) in str(exc.value)


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
        changed.write_text(EXAMPLE.read_text().replace("name: staff", "name: staff renamed"))
        third = await apply_seed(service, load_seed(str(changed)), "us-east-1")
        assert third[1].name == "staff renamed"
        assert third[1].pool_id == first[1].pool_id
        await store.close()

    asyncio.run(scenario())
