"""The KeyRows port in SQL (domain/ports.py): idpool's signing keys, encrypted by the keyring."""

from __future__ import annotations

import orjson
from sqlalchemy import bindparam, insert, or_, select, update

from idpool.domain.ports import StoredKey
from idpool.storage import tables as t
from idpool.storage.prepared import prepared
from idpool.storage.rows import Rows

_K = t.signing_keys.c

LIVE_KEYS = prepared(
    "keys not yet expired, newest first",
    select(_K.kid, _K.created_at, _K.private_key, _K.public_jwk, _K.retired_at, _K.expires_at)
    .where(or_(_K.expires_at.is_(None), _K.expires_at > bindparam("now")))
    .order_by(_K.created_at.desc()),
)
INSERT_KEY = prepared("insert key", insert(t.signing_keys))
RETIRE_ACTIVE_KEY = prepared(
    "retire the active key",
    update(t.signing_keys)
    .where(_K.active_guard == 1)
    .values(
        active_guard=None, retired_at=bindparam("retired_at"), expires_at=bindparam("expires_at")
    ),
)


class SqlKeyRows(Rows):
    async def load_keys(self, now: float) -> list[StoredKey]:
        return [
            StoredKey(
                kid=row[0],
                created_at=row[1],
                private_key_encrypted=bytes(row[2]),
                public_jwk=orjson.loads(row[3]),
                retired_at=row[4],
                expires_at=row[5],
            )
            for row in await self._x.fetch(LIVE_KEYS, {"now": now})
        ]

    async def insert_key(self, key: StoredKey, *, active: bool) -> None:
        await self._x.write(
            INSERT_KEY,
            {
                "kid": key.kid,
                "created_at": key.created_at,
                "active_guard": 1 if active else None,
                "private_key": key.private_key_encrypted,
                "public_jwk": orjson.dumps(dict(key.public_jwk)).decode(),
                "retired_at": key.retired_at,
                "expires_at": key.expires_at,
            },
        )

    async def retire_active_key(self, retire_at: float, expires_at: float) -> None:
        await self._x.write(RETIRE_ACTIVE_KEY, {"retired_at": retire_at, "expires_at": expires_at})
