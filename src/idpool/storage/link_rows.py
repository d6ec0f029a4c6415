"""The LinkRows port in SQL (domain/ports.py): logins and developer user ids of identities."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update

from idpool.domain.records import Link
from idpool.storage import tables as t
from idpool.storage.prepared import prepared
from idpool.storage.rows import Rows

LINK_COLUMNS = (
    t.links.c.pool_id,
    t.links.c.identity_id,
    t.links.c.provider,
    t.links.c.subject,
    t.links.c.developer,
    t.links.c.created_at,
)
_ORDER = (t.links.c.created_at, t.links.c.provider, t.links.c.subject)

FIND_LINK = prepared(
    "find the link of a login",
    select(*LINK_COLUMNS).where(
        t.links.c.pool_id == bindparam("pool_id"),
        t.links.c.provider == bindparam("provider"),
        t.links.c.subject == bindparam("subject"),
    ),
)
LINKS_OF_ONE = prepared(
    "links of an identity",
    select(*LINK_COLUMNS)
    .where(t.links.c.identity_id == bindparam("identity_id"))
    .order_by(*_ORDER),
)
INSERT_LINK = prepared("insert link", insert(t.links))
DELETE_LINK = prepared(
    "delete the link of a login",
    delete(t.links).where(
        t.links.c.pool_id == bindparam("pool_id"),
        t.links.c.provider == bindparam("provider"),
        t.links.c.subject == bindparam("subject"),
    ),
)
MOVE_LINKS = prepared(
    "move links to another identity",
    update(t.links)
    .where(t.links.c.identity_id == bindparam("from_identity"))
    .values(identity_id=bindparam("to_identity")),
)


def link_slot(provider: str, subject: str, developer: bool) -> str:
    """The per-identity uniqueness slot of a link (see tables.links)."""
    if not developer:
        return provider
    digest = hashlib.sha256(f"{provider}\x1f{subject}".encode()).hexdigest()[:40]
    return f"dev:{digest}"


def link_of(row: Sequence[Any]) -> Link:
    """A link from a row of LINK_COLUMNS (Booleans already bool: prepared.py)."""
    return Link(
        pool_id=row[0],
        identity_id=row[1],
        provider=row[2],
        subject=row[3],
        developer=row[4],
        created_at=row[5],
    )


class SqlLinkRows(Rows):
    async def links_of(self, identity_ids: Sequence[str]) -> list[Link]:
        if not identity_ids:
            return []
        if len(identity_ids) == 1:
            rows = await self._x.fetch(LINKS_OF_ONE, {"identity_id": identity_ids[0]})
            return [link_of(row) for row in rows]
        query = (
            select(*LINK_COLUMNS)
            .where(t.links.c.identity_id.in_(list(identity_ids)))
            .order_by(*_ORDER)
        )
        return [link_of(row) for row in await self._x.execute(query)]

    async def find_links(self, pool_id: str, keys: Sequence[tuple[str, str]]) -> list[Link]:
        if not keys:
            return []
        if len(keys) == 1:
            provider, subject = keys[0]
            params = {"pool_id": pool_id, "provider": provider, "subject": subject}
            return [link_of(row) for row in await self._x.fetch(FIND_LINK, params)]
        query = select(*LINK_COLUMNS).where(
            t.links.c.pool_id == pool_id,
            or_(*(and_(t.links.c.provider == p, t.links.c.subject == s) for p, s in keys)),
        )
        return [link_of(row) for row in await self._x.execute(query)]

    async def insert_link(self, link: Link) -> None:
        await self._x.write(
            INSERT_LINK,
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
        params = {"pool_id": pool_id, "provider": provider, "subject": subject}
        await self._x.write(DELETE_LINK, params)

    async def move_links(self, from_identity: str, to_identity: str) -> None:
        params = {"from_identity": from_identity, "to_identity": to_identity}
        await self._x.write(MOVE_LINKS, params)

    async def developer_links(self, identity_id: str, after: str | None, limit: int) -> list[Link]:
        query = select(*LINK_COLUMNS).where(
            t.links.c.identity_id == identity_id, t.links.c.developer.is_(True)
        )
        if after is not None:
            query = query.where(t.links.c.subject > after)
        query = query.order_by(t.links.c.subject).limit(limit)
        return [link_of(row) for row in await self._x.execute(query)]
