"""A short-lived in-process cache of pools for the public hot path.

Every public call needs the pool's configuration before it can verify logins; reading it from
the store each time costs as much as the rest of a GetId. Entries live `ttl` seconds and are
dropped at once when this process changes the pool, so a replica sees its own writes
immediately and other replicas' changes within `ttl` (documented in docs/compatibility.md).
Writes never trust the cache: they re-read the pool inside their transaction.
"""

from __future__ import annotations

from collections import OrderedDict

from idpool.domain.ports import Clock
from idpool.domain.records import Pool


class PoolCache:
    def __init__(self, clock: Clock, ttl: float = 1.0, capacity: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._entries: OrderedDict[str, tuple[float, Pool | None]] = OrderedDict()

    def get(self, pool_id: str) -> tuple[bool, Pool | None]:
        """(hit, pool): a hit may be a remembered absence (None)."""
        if self._ttl <= 0:
            return False, None
        entry = self._entries.get(pool_id)
        if entry is None:
            return False, None
        expires, pool = entry
        if expires < self._clock.now():
            del self._entries[pool_id]
            return False, None
        return True, pool

    def put(self, pool_id: str, pool: Pool | None) -> None:
        if self._ttl <= 0:
            return
        self._entries[pool_id] = (self._clock.now() + self._ttl, pool)
        self._entries.move_to_end(pool_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def forget(self, pool_id: str) -> None:
        self._entries.pop(pool_id, None)
