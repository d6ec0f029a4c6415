"""The KeyStore port on the SQL store: idpool's signing keys live in the shared database."""

from __future__ import annotations

from idpool.domain.ports import KeyRowStore, StoreConflict, StoredKey


class SqlKeyStore:
    """The KeyStore port over any store with key rows (storage/sql.py's SqlStore)."""

    def __init__(self, store: KeyRowStore) -> None:
        self._store = store

    async def load_keys(self, now: float) -> list[StoredKey]:
        async with self._store.transaction(readonly=True) as tx:
            return await tx.load_keys(now)

    async def insert_key_if_no_active(self, key: StoredKey) -> bool:
        """The `active_guard` unique column makes a second active key impossible."""
        try:
            async with self._store.transaction() as tx:
                await tx.insert_key(key, active=True)
        except StoreConflict:
            return False
        return True

    async def rotate(self, new_key: StoredKey, retire_at: float, expires_at: float) -> None:
        async with self._store.transaction() as tx:
            await tx.retire_active_key(retire_at, expires_at)
            await tx.insert_key(new_key, active=True)
