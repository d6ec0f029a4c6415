"""The IdentityRows port in SQL (domain/ports.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from idpool.domain.records import Identity
from idpool.storage import tables as t
from idpool.storage.prepared import prepared
from idpool.storage.rows import Rows, keyset_after

IDENTITY_COLUMNS = (
    t.identities.c.identity_id,
    t.identities.c.pool_id,
    t.identities.c.account_id,
    t.identities.c.created_at,
    t.identities.c.modified_at,
    t.identities.c.authenticated,
    t.identities.c.disabled,
)

_GET = select(*IDENTITY_COLUMNS).where(t.identities.c.identity_id == bindparam("identity_id"))
_OWN = _GET.where(t.identities.c.account_id == bindparam("account_id"))
GET_IDENTITY = prepared("get identity", _GET)
GET_IDENTITY_LOCKED = prepared("get identity, locked", _GET.with_for_update())
GET_OWN_IDENTITY = prepared("get identity of an account", _OWN)
GET_OWN_IDENTITY_LOCKED = prepared("get identity of an account, locked", _OWN.with_for_update())
INSERT_IDENTITY = prepared("insert identity", insert(t.identities))
UPDATE_IDENTITY = prepared(
    "update identity",
    update(t.identities)
    .where(t.identities.c.identity_id == bindparam("key_identity_id"))
    .values(
        modified_at=bindparam("modified_at"),
        authenticated=bindparam("authenticated"),
        disabled=bindparam("disabled"),
    ),
)
DELETE_IDENTITY_LINKS = prepared(
    "delete links of an identity",
    delete(t.links).where(t.links.c.identity_id == bindparam("identity_id")),
)
DELETE_IDENTITY = prepared(
    "delete identity",
    delete(t.identities).where(t.identities.c.identity_id == bindparam("identity_id")),
)


def identity_of(row: Sequence[Any]) -> Identity:
    """An identity from a row of IDENTITY_COLUMNS (Booleans already bool: prepared.py)."""
    return Identity(
        identity_id=row[0],
        pool_id=row[1],
        account_id=row[2],
        created_at=row[3],
        modified_at=row[4],
        authenticated=row[5],
        disabled=row[6],
    )


class SqlIdentityRows(Rows):
    async def get_identity(
        self, identity_id: str, *, account_id: str | None = None, for_update: bool = False
    ) -> Identity | None:
        lock = for_update and self._row_locks
        if account_id is None:
            query = GET_IDENTITY_LOCKED if lock else GET_IDENTITY
            params = {"identity_id": identity_id}
        else:
            query = GET_OWN_IDENTITY_LOCKED if lock else GET_OWN_IDENTITY
            params = {"identity_id": identity_id, "account_id": account_id}
        rows = await self._x.fetch(query, params)
        return identity_of(rows[0]) if rows else None

    async def lock_identities(self, identity_ids: Sequence[str]) -> list[Identity]:
        if not identity_ids:
            return []
        query = (
            select(*IDENTITY_COLUMNS)
            .where(t.identities.c.identity_id.in_(sorted(set(identity_ids))))
            .order_by(t.identities.c.identity_id)
        )
        if self._row_locks:
            # PostgreSQL locks in the order the rows come out of the sort (LockRows sits
            # above Sort in the plan), and returns each row's latest committed version.
            query = query.with_for_update()
        return [identity_of(row) for row in await self._x.execute(query)]

    async def insert_identity(self, identity: Identity) -> None:
        await self._x.write(
            INSERT_IDENTITY,
            {
                "identity_id": identity.identity_id,
                "pool_id": identity.pool_id,
                "account_id": identity.account_id,
                "created_at": identity.created_at,
                "modified_at": identity.modified_at,
                "authenticated": identity.authenticated,
                "disabled": identity.disabled,
            },
        )

    async def update_identity(self, identity: Identity) -> None:
        await self._x.write(
            UPDATE_IDENTITY,
            {
                "key_identity_id": identity.identity_id,
                "modified_at": identity.modified_at,
                "authenticated": identity.authenticated,
                "disabled": identity.disabled,
            },
        )

    async def delete_identity(self, identity_id: str) -> None:
        for statement in (DELETE_IDENTITY_LINKS, DELETE_IDENTITY):
            await self._x.write(statement, {"identity_id": identity_id})

    async def list_identities(
        self, pool_id: str, after: tuple[float, str] | None, limit: int, hide_disabled: bool
    ) -> list[Identity]:
        c = t.identities.c
        query = select(*IDENTITY_COLUMNS).where(c.pool_id == pool_id)
        if hide_disabled:
            query = query.where(c.disabled.is_(False))
        if after is not None:
            query = query.where(keyset_after(c.created_at, c.identity_id, after))
        query = query.order_by(c.created_at, c.identity_id).limit(limit)
        return [identity_of(row) for row in await self._x.execute(query)]
