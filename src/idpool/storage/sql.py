"""The Store: one SQL implementation for SQLite and PostgreSQL.

Queries are SQLAlchemy Core statements shared by both databases; only execution differs
(`dialects.py`): SQLite runs on one connection inside the event loop (its calls take
microseconds and a single writer is what SQLite wants), PostgreSQL runs on an async
connection pool. Unique-key violations and serialization failures surface as
`StoreConflict`, which the service answers by retrying its transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from idpool.domain.ports import AuditEvent, StoreConflict, StoredKey
from idpool.domain.records import Identity, Link, Pool
from idpool.storage import tables as t
from idpool.storage.codec import pool_config_json, pool_from_row
from idpool.storage.errors import Writability, store_error


class Executor(Protocol):
    """What a transaction needs from a connection: run one statement, get a buffered result."""

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]: ...

    async def fetch(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        """Rows of a prebuilt SELECT (the hot path; see dialects.py)."""
        ...

    async def write(self, statement: Any, params: dict[str, Any]) -> None:
        """Run a prebuilt INSERT/UPDATE; a unique-key violation raises StoreConflict."""
        ...


def link_slot(provider: str, subject: str, developer: bool) -> str:
    """The per-identity uniqueness slot of a link (see tables.links)."""
    if not developer:
        return provider
    digest = hashlib.sha256(f"{provider}\x1f{subject}".encode()).hexdigest()[:40]
    return f"dev:{digest}"


_POOL_COLUMNS = (
    t.pools.c.pool_id,
    t.pools.c.account_id,
    t.pools.c.region,
    t.pools.c.name,
    t.pools.c.created_at,
    t.pools.c.version,
    t.pools.c.config,
)
_IDENTITY_COLUMNS = (
    t.identities.c.identity_id,
    t.identities.c.pool_id,
    t.identities.c.account_id,
    t.identities.c.created_at,
    t.identities.c.modified_at,
    t.identities.c.authenticated,
    t.identities.c.disabled,
)
_LINK_COLUMNS = (
    t.links.c.pool_id,
    t.links.c.identity_id,
    t.links.c.provider,
    t.links.c.subject,
    t.links.c.developer,
    t.links.c.created_at,
)


# Hot statements are built once: constructing a SQLAlchemy expression costs more than running
# it on SQLite, and prebuilt statements also hit the compiled cache directly.
_GET_POOL = select(*_POOL_COLUMNS).where(t.pools.c.pool_id == bindparam("pool_id"))
_GET_POOL_LOCKED = _GET_POOL.with_for_update()
_GET_OWN_POOL = _GET_POOL.where(t.pools.c.account_id == bindparam("account_id"))
_GET_OWN_POOL_LOCKED = _GET_OWN_POOL.with_for_update()
_GET_IDENTITY = select(*_IDENTITY_COLUMNS).where(
    t.identities.c.identity_id == bindparam("identity_id")
)
_GET_IDENTITY_LOCKED = _GET_IDENTITY.with_for_update()
_GET_OWN_IDENTITY = _GET_IDENTITY.where(t.identities.c.account_id == bindparam("account_id"))
_GET_OWN_IDENTITY_LOCKED = _GET_OWN_IDENTITY.with_for_update()
_FIND_LINK = select(*_LINK_COLUMNS).where(
    t.links.c.pool_id == bindparam("pool_id"),
    t.links.c.provider == bindparam("provider"),
    t.links.c.subject == bindparam("subject"),
)
_LINKS_OF_ONE = (
    select(*_LINK_COLUMNS)
    .where(t.links.c.identity_id == bindparam("identity_id"))
    .order_by(t.links.c.created_at, t.links.c.provider, t.links.c.subject)
)
_INSERT_IDENTITY = insert(t.identities)
_UPDATE_IDENTITY = (
    update(t.identities)
    .where(t.identities.c.identity_id == bindparam("key_identity_id"))
    .values(
        modified_at=bindparam("modified_at"),
        authenticated=bindparam("authenticated"),
        disabled=bindparam("disabled"),
    )
)
_INSERT_LINK = insert(t.links)
_INSERT_EVENT = insert(t.events).values(
    {
        name: bindparam(name)
        for name in ("account_id", "pool_id", "identity_id", "kind", "detail", "at")
    }
)


def _pool(row: Any) -> Pool:
    return pool_from_row(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def _identity(row: Any) -> Identity:
    return Identity(
        identity_id=row[0],
        pool_id=row[1],
        account_id=row[2],
        created_at=row[3],
        modified_at=row[4],
        authenticated=bool(row[5]),
        disabled=bool(row[6]),
    )


def _link(row: Any) -> Link:
    return Link(
        pool_id=row[0],
        identity_id=row[1],
        provider=row[2],
        subject=row[3],
        developer=bool(row[4]),
        created_at=row[5],
    )


class SqlTransaction:
    """The store's reads and writes inside one open transaction (see domain.ports.Transaction)."""

    def __init__(self, executor: Executor, *, row_locks: bool) -> None:
        self._x = executor
        self._row_locks = row_locks

    async def _run(self, statement: Executable, params: Any = None) -> Result[Any]:
        try:
            return await self._x.execute(statement, params)
        except DBAPIError as exc:
            raise store_error(exc) from exc

    # pools -------------------------------------------------------------------------------

    async def get_pool(
        self, pool_id: str, *, account_id: str | None = None, for_update: bool = False
    ) -> Pool | None:
        lock = for_update and self._row_locks
        if account_id is None:
            rows = await self._x.fetch(
                _GET_POOL_LOCKED if lock else _GET_POOL, {"pool_id": pool_id}
            )
        else:
            rows = await self._x.fetch(
                _GET_OWN_POOL_LOCKED if lock else _GET_OWN_POOL,
                {"pool_id": pool_id, "account_id": account_id},
            )
        return _pool(rows[0]) if rows else None

    async def insert_pool(self, pool: Pool) -> None:
        await self._run(
            insert(t.pools).values(
                pool_id=pool.pool_id,
                account_id=pool.account_id,
                region=pool.region,
                name=pool.name,
                created_at=pool.created_at,
                version=pool.version,
                config=pool_config_json(pool),
            )
        )

    async def update_pool(self, pool: Pool) -> None:
        result = await self._run(
            update(t.pools)
            .where(t.pools.c.pool_id == pool.pool_id, t.pools.c.version == pool.version - 1)
            .values(name=pool.name, version=pool.version, config=pool_config_json(pool))
        )
        if getattr(result, "rowcount", 1) != 1:
            raise StoreConflict(f"pool {pool.pool_id} changed concurrently")

    async def delete_pool(self, pool_id: str) -> None:
        await self._run(delete(t.links).where(t.links.c.pool_id == pool_id))
        await self._run(delete(t.identities).where(t.identities.c.pool_id == pool_id))
        await self._run(delete(t.pools).where(t.pools.c.pool_id == pool_id))

    async def count_pools(self, account_id: str, region: str) -> int:
        query = select(func.count()).where(
            t.pools.c.account_id == account_id, t.pools.c.region == region
        )
        return int((await self._run(query)).scalar_one())

    async def list_pools(
        self, account_id: str, region: str, after: tuple[float, str] | None, limit: int
    ) -> list[Pool]:
        query = select(*_POOL_COLUMNS).where(
            t.pools.c.account_id == account_id, t.pools.c.region == region
        )
        if after is not None:
            query = query.where(_after(t.pools.c.created_at, t.pools.c.pool_id, after))
        query = query.order_by(t.pools.c.created_at, t.pools.c.pool_id).limit(limit)
        return [_pool(row) for row in await self._run(query)]

    # identities --------------------------------------------------------------------------

    async def get_identity(
        self, identity_id: str, *, account_id: str | None = None, for_update: bool = False
    ) -> Identity | None:
        lock = for_update and self._row_locks
        if account_id is None:
            rows = await self._x.fetch(
                _GET_IDENTITY_LOCKED if lock else _GET_IDENTITY, {"identity_id": identity_id}
            )
        else:
            rows = await self._x.fetch(
                _GET_OWN_IDENTITY_LOCKED if lock else _GET_OWN_IDENTITY,
                {"identity_id": identity_id, "account_id": account_id},
            )
        return _identity(rows[0]) if rows else None

    async def lock_identities(self, identity_ids: Sequence[str]) -> list[Identity]:
        if not identity_ids:
            return []
        query = (
            select(*_IDENTITY_COLUMNS)
            .where(t.identities.c.identity_id.in_(sorted(set(identity_ids))))
            .order_by(t.identities.c.identity_id)
        )
        if self._row_locks:
            # PostgreSQL locks in the order the rows come out of the sort (LockRows sits
            # above Sort in the plan), and returns each row's latest committed version.
            query = query.with_for_update()
        return [_identity(row) for row in await self._run(query)]

    async def insert_identity(self, identity: Identity) -> None:
        await self._x.write(
            _INSERT_IDENTITY,
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
            _UPDATE_IDENTITY,
            {
                "key_identity_id": identity.identity_id,
                "modified_at": identity.modified_at,
                "authenticated": identity.authenticated,
                "disabled": identity.disabled,
            },
        )

    async def delete_identity(self, identity_id: str) -> None:
        await self._run(delete(t.links).where(t.links.c.identity_id == identity_id))
        await self._run(delete(t.identities).where(t.identities.c.identity_id == identity_id))

    async def list_identities(
        self, pool_id: str, after: tuple[float, str] | None, limit: int, hide_disabled: bool
    ) -> list[Identity]:
        query = select(*_IDENTITY_COLUMNS).where(t.identities.c.pool_id == pool_id)
        if hide_disabled:
            query = query.where(t.identities.c.disabled.is_(False))
        if after is not None:
            query = query.where(
                _after(t.identities.c.created_at, t.identities.c.identity_id, after)
            )
        query = query.order_by(t.identities.c.created_at, t.identities.c.identity_id).limit(limit)
        return [_identity(row) for row in await self._run(query)]

    # links -------------------------------------------------------------------------------

    async def links_of(self, identity_ids: Sequence[str]) -> list[Link]:
        if not identity_ids:
            return []
        if len(identity_ids) == 1:
            rows = await self._x.fetch(_LINKS_OF_ONE, {"identity_id": identity_ids[0]})
            return [_link(row) for row in rows]
        query = (
            select(*_LINK_COLUMNS)
            .where(t.links.c.identity_id.in_(list(identity_ids)))
            .order_by(t.links.c.created_at, t.links.c.provider, t.links.c.subject)
        )
        return [_link(row) for row in await self._run(query)]

    async def find_links(self, pool_id: str, keys: Sequence[tuple[str, str]]) -> list[Link]:
        if not keys:
            return []
        if len(keys) == 1:
            provider, subject = keys[0]
            params = {"pool_id": pool_id, "provider": provider, "subject": subject}
            return [_link(row) for row in await self._x.fetch(_FIND_LINK, params)]
        query = select(*_LINK_COLUMNS).where(
            t.links.c.pool_id == pool_id,
            or_(*(and_(t.links.c.provider == p, t.links.c.subject == s) for p, s in keys)),
        )
        return [_link(row) for row in await self._run(query)]

    async def insert_link(self, link: Link) -> None:
        await self._x.write(
            _INSERT_LINK,
            {
                "pool_id": link.pool_id,
                "provider": link.provider,
                "subject": link.subject,
                "identity_id": link.identity_id,
                "developer": link.developer,
                "slot": link_slot(link.provider, link.subject, link.developer),
                "created_at": link.created_at,
            },
        )

    async def delete_link(self, pool_id: str, provider: str, subject: str) -> None:
        await self._run(
            delete(t.links).where(
                t.links.c.pool_id == pool_id,
                t.links.c.provider == provider,
                t.links.c.subject == subject,
            )
        )

    async def move_links(self, from_identity: str, to_identity: str) -> None:
        await self._run(
            update(t.links)
            .where(t.links.c.identity_id == from_identity)
            .values(identity_id=to_identity)
        )

    async def developer_links(self, identity_id: str, after: str | None, limit: int) -> list[Link]:
        query = select(*_LINK_COLUMNS).where(
            t.links.c.identity_id == identity_id, t.links.c.developer.is_(True)
        )
        if after is not None:
            query = query.where(t.links.c.subject > after)
        query = query.order_by(t.links.c.subject).limit(limit)
        return [_link(row) for row in await self._run(query)]

    # audit trail -------------------------------------------------------------------------

    async def record_event(
        self,
        account_id: str,
        pool_id: str,
        identity_id: str | None,
        kind: str,
        detail: str,
        at: float,
    ) -> None:
        await self._x.write(
            _INSERT_EVENT,
            {
                "account_id": account_id,
                "pool_id": pool_id,
                "identity_id": identity_id,
                "kind": kind,
                "detail": detail,
                "at": at,
            },
        )

    # signing keys ------------------------------------------------------------------------

    async def load_keys(self, now: float) -> list[StoredKey]:
        query = (
            select(
                t.signing_keys.c.kid,
                t.signing_keys.c.created_at,
                t.signing_keys.c.private_key,
                t.signing_keys.c.public_jwk,
                t.signing_keys.c.retired_at,
                t.signing_keys.c.expires_at,
            )
            .where(or_(t.signing_keys.c.expires_at.is_(None), t.signing_keys.c.expires_at > now))
            .order_by(t.signing_keys.c.created_at.desc())
        )
        return [
            StoredKey(
                kid=row[0],
                created_at=row[1],
                private_key_encrypted=bytes(row[2]),
                public_jwk=orjson.loads(row[3]),
                retired_at=row[4],
                expires_at=row[5],
            )
            for row in cast(Any, await self._run(query))
        ]

    async def insert_key(self, key: StoredKey, *, active: bool) -> None:
        await self._run(
            insert(t.signing_keys).values(
                kid=key.kid,
                created_at=key.created_at,
                active_guard=1 if active else None,
                private_key=key.private_key_encrypted,
                public_jwk=orjson.dumps(dict(key.public_jwk)).decode(),
                retired_at=key.retired_at,
                expires_at=key.expires_at,
            )
        )

    async def retire_active_key(self, retire_at: float, expires_at: float) -> None:
        await self._run(
            update(t.signing_keys)
            .where(t.signing_keys.c.active_guard == 1)
            .values(active_guard=None, retired_at=retire_at, expires_at=expires_at)
        )

    # administration (the console) -------------------------------------------------------

    async def list_all_pools(self, after: tuple[float, str] | None, limit: int) -> list[Pool]:
        query = select(*_POOL_COLUMNS)
        if after is not None:
            query = query.where(_after(t.pools.c.created_at, t.pools.c.pool_id, after))
        query = query.order_by(t.pools.c.created_at, t.pools.c.pool_id).limit(limit)
        return [pool_from_row(*tuple(row)) for row in await self._run(query)]

    async def count_identities(self, pool_id: str) -> int:
        query = select(func.count()).where(t.identities.c.pool_id == pool_id)
        return int((await self._run(query)).scalar_one())

    async def search_links(self, pool_id: str, subject: str, limit: int) -> list[Link]:
        query = (
            select(*_LINK_COLUMNS)
            .where(t.links.c.pool_id == pool_id, t.links.c.subject == subject)
            .order_by(t.links.c.provider)
            .limit(limit)
        )
        return [_link(row) for row in await self._run(query)]

    async def list_events(
        self,
        account_id: str,
        pool_id: str,
        identity_id: str | None,
        before: int | None,
        limit: int,
    ) -> list[AuditEvent]:
        e = t.events.c
        query = select(
            e.event_id, e.account_id, e.pool_id, e.identity_id, e.kind, e.detail, e.at
        ).where(e.account_id == account_id, e.pool_id == pool_id)
        if identity_id is not None:
            query = query.where(e.identity_id == identity_id)
        if before is not None:
            query = query.where(e.event_id < before)
        query = query.order_by(e.event_id.desc()).limit(limit)
        return [AuditEvent(*tuple(row)) for row in await self._run(query)]

    async def recent_events(self, limit: int) -> list[AuditEvent]:
        e = t.events.c
        query = (
            select(e.event_id, e.account_id, e.pool_id, e.identity_id, e.kind, e.detail, e.at)
            .order_by(e.event_id.desc())
            .limit(limit)
        )
        return [AuditEvent(*tuple(row)) for row in await self._run(query)]


def _after(order_col: Any, id_col: Any, after: tuple[float, str]) -> Any:
    """Keyset condition `(order, id) > after`, spelled without row values for portability.

    The leading `order >= at` is implied by the rest but lets every planner turn the index on
    (pool, order, id) into a range scan, so a page costs the same at any depth of the list.
    """
    at, last_id = after
    return and_(order_col >= at, or_(order_col > at, id_col > last_id))


class SqlStore:
    """The Store port over a dialect-specific connection source (see dialects.py)."""

    def __init__(self, source: TransactionSource) -> None:
        self._source = source

    @asynccontextmanager
    async def transaction(self, readonly: bool = False) -> AsyncIterator[SqlTransaction]:
        try:
            async with self._source.begin(readonly=readonly) as executor:
                yield SqlTransaction(executor, row_locks=self._source.row_locks)
        except StoreConflict:
            raise
        except DBAPIError as exc:
            raise store_error(exc) from exc

    async def close(self) -> None:
        await self._source.close()

    @property
    def dialect_name(self) -> str:
        return self._source.dialect_name

    @property
    def writable(self) -> bool:
        """False since a write failed because the database cannot write (storage/errors.py)."""
        return self._source.writability.writable

    async def ping(self, timeout: float | None = None) -> bool:
        """Whether the store answers a read of its schema within `timeout` seconds."""
        try:
            async with self._source.begin(readonly=True, timeout=timeout) as executor:
                await SqlTransaction(executor, row_locks=False).count_pools("-", "-")
        except Exception:
            return False
        return True


class TransactionSource(Protocol):
    row_locks: bool
    dialect_name: str
    writability: Writability

    def begin(self, *, readonly: bool, timeout: float | None = None) -> Any:
        """An async context manager yielding an Executor inside a transaction."""
        ...

    async def close(self) -> None: ...
