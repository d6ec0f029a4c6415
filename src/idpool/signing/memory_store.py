"""A KeyStore in memory, for tests and single-process tools that need no database.

It keeps the SQL store's rules: at most one active key, expired keys no longer returned, and
newest first.
"""

from __future__ import annotations

import asyncio
import dataclasses

from idpool.domain.ports import StoredKey


class MemoryKeyStore:
    def __init__(self) -> None:
        self.keys: list[StoredKey] = []
        self.loads = 0

    async def load_keys(self, now: float) -> list[StoredKey]:
        self.loads += 1
        await asyncio.sleep(0)  # a real store yields here; lets tests interleave replicas
        live = [k for k in self.keys if k.expires_at is None or k.expires_at > now]
        return sorted(live, key=lambda k: k.created_at, reverse=True)

    async def insert_key_if_no_active(self, key: StoredKey) -> bool:
        await asyncio.sleep(0)
        if any(k.retired_at is None for k in self.keys) or key.kid in {k.kid for k in self.keys}:
            return False
        self.keys.append(dataclasses.replace(key, retired_at=None, expires_at=None))
        return True

    async def rotate(self, new_key: StoredKey, retire_at: float, expires_at: float) -> None:
        await asyncio.sleep(0)
        self.keys = [
            dataclasses.replace(k, retired_at=retire_at, expires_at=expires_at)
            if k.retired_at is None
            else k
            for k in self.keys
        ]
        self.keys.append(dataclasses.replace(new_key, retired_at=None, expires_at=None))
