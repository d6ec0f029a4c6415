"""A short-lived in-process cache of pools for the public hot path.

Every public call needs the pool's configuration before it can verify logins; reading it from
the store each time costs as much as the rest of a GetId. Entries live `ttl` seconds and are
dropped at once when this process changes the pool, so a replica sees its own writes
immediately and other replicas' changes within `ttl` (documented in docs/compatibility.md).
Writes never trust the cache: they re-read the pool inside their transaction.

Worker processes of one server (`--workers`) share a change counter (`Generation`): a pool
change in any worker bumps it, and an entry cached before the bump is a miss everywhere, so
the workers of one server see each other's changes at once, as one process would.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from idpool.domain.ports import Clock
from idpool.domain.records import Pool


class Generation(Protocol):
    """A counter shared by the processes of one server; any change means "pools changed"."""

    def value(self) -> int: ...

    def bump(self) -> None: ...


class PoolCache:
    def __init__(
        self,
        clock: Clock,
        ttl: float = 1.0,
        capacity: int = 10_000,
        *,
        shared: Generation | None = None,
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._shared = shared
        self._entries: OrderedDict[str, tuple[float, Pool | None, int]] = OrderedDict()

    def generation(self) -> int:
        """Read before the store read whose result goes to `put`: a change in between wins."""
        return 0 if self._shared is None else self._shared.value()

    def get(self, pool_id: str) -> tuple[bool, Pool | None]:
        """(hit, pool): a hit may be a remembered absence (None)."""
        if self._ttl <= 0:
            return False, None
        entry = self._entries.get(pool_id)
        if entry is None:
            return False, None
        expires, pool, generation = entry
        if expires < self._clock.now() or generation != self.generation():
            del self._entries[pool_id]
            return False, None
        return True, pool

    def put(self, pool_id: str, pool: Pool | None, generation: int | None = None) -> None:
        if self._ttl <= 0:
            return
        seen = self.generation() if generation is None else generation
        self._entries[pool_id] = (self._clock.now() + self._ttl, pool, seen)
        self._entries.move_to_end(pool_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def forget(self, pool_id: str) -> None:
        self._entries.pop(pool_id, None)
        if self._shared is not None:
            self._shared.bump()
