"""The AuditTrail port in SQL (domain/ports.py): identity lifecycle events."""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select

from idpool.domain.ports import AuditEvent
from idpool.storage import tables as t
from idpool.storage.prepared import prepared
from idpool.storage.rows import Rows

_E = t.events.c
EVENT_COLUMNS = (_E.event_id, _E.account_id, _E.pool_id, _E.identity_id, _E.kind, _E.detail, _E.at)

INSERT_EVENT = prepared(
    "insert event",
    insert(t.events).values(
        {
            name: bindparam(name)
            for name in ("account_id", "pool_id", "identity_id", "kind", "detail", "at")
        }
    ),
)


class SqlAuditTrail(Rows):
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
            INSERT_EVENT,
            {
                "account_id": account_id,
                "pool_id": pool_id,
                "identity_id": identity_id,
                "kind": kind,
                "detail": detail,
                "at": at,
            },
        )

    async def list_events(
        self,
        account_id: str,
        pool_id: str,
        identity_id: str | None,
        before: int | None,
        limit: int,
    ) -> list[AuditEvent]:
        query = select(*EVENT_COLUMNS).where(_E.account_id == account_id, _E.pool_id == pool_id)
        if identity_id is not None:
            query = query.where(_E.identity_id == identity_id)
        if before is not None:
            query = query.where(_E.event_id < before)
        query = query.order_by(_E.event_id.desc()).limit(limit)
        return [AuditEvent(*tuple(row)) for row in await self._x.execute(query)]
