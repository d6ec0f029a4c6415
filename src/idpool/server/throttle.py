"""Request-rate quotas: one token bucket per (account, operation) → TooManyRequestsException.

Runs in the pipeline after authentication and constraints, just before the service call, so
malformed requests never spend tokens. AWS applies these quotas per account and region; one idpool
process serves one region, so (account, operation) is the key.

Everything runs on the event loop thread: no locks, O(1) per check, and a bounded LRU of buckets
so an unbounded number of accounts cannot grow memory. With several worker processes
(`--workers`) the buckets live in shared memory instead (`SharedBuckets`), so the workers
together enforce the quota exactly as one process would.
"""

from __future__ import annotations

import mmap
import multiprocessing
import struct
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from idpool.domain.errors import TooManyRequestsException
from idpool.wire.operations import published_rates

RATE_EXCEEDED = "Rate exceeded"

# Published quotas (requests per second per account) by rate key: one row per operation in
# wire/operations.py holds its rate and its key.
DEFAULT_RATES: Mapping[str, float] = published_rates()
# ASSUMPTION: AWS publishes no rate for the other operations (Describe*, List*, Lookup…, Merge…,
# Create/Update/Delete…); 25 per second, the GetId quota, is our documented stand-in.
DEFAULT_OTHER_RATE = 25.0
DEFAULT_MAX_BUCKETS = 100_000
# Refill arithmetic on float clock readings can land a hair under a whole token.
_ONE_TOKEN = 1.0 - 1e-9


@dataclass(frozen=True, slots=True)
class Rate:
    """Sustained rate (tokens per second) and burst (bucket capacity; defaults to the rate)."""

    per_second: float
    burst: float | None = None


RateSpec = float | Rate | None


@dataclass(frozen=True, slots=True)
class _Limit:
    per_second: float
    capacity: float


def _limit(spec: RateSpec, share: float) -> _Limit | None:
    """The per-replica limit of one operation, or None when unlimited (0 or None)."""
    if spec is None:
        return None
    rate = spec if isinstance(spec, Rate) else Rate(float(spec))
    if rate.per_second < 0 or (rate.burst is not None and rate.burst < 0):
        raise ValueError(f"rates must not be negative: {rate}")
    if rate.per_second == 0:
        return None
    burst = rate.per_second if rate.burst is None else rate.burst
    # A bucket smaller than one token would refuse every request; each replica keeps at least one.
    return _Limit(rate.per_second / share, max(1.0, burst / share))


class SharedBuckets:
    """Token buckets in anonymous shared memory, for worker processes forked from one parent.

    A fixed table of `sets` x `ways` slots (key hash, tokens, last refill): a key lives in
    one set; a key not found takes the set's empty or least recently refilled slot, and starts
    full, which is what an evicted bucket of the in-process LRU does too. Keys are hashed
    with `hash()`: forked workers share the parent's hash seed.

    An update holds a lock taken without waiting: when another worker holds it, or a worker
    died holding it (kill -9), the update goes ahead unlocked rather than block the event
    loop, and a race then costs at most one token too many. So the quota is exact except for
    simultaneous checks of one key, where it errs by a token toward admitting.
    """

    _SLOT = struct.Struct("qdd")

    def __init__(self, sets: int = 16_384, ways: int = 4) -> None:
        self._sets = sets
        self._ways = ways
        self._memory = mmap.mmap(-1, sets * ways * self._SLOT.size)
        self._lock = multiprocessing.get_context("fork").Lock()

    def take(self, key: tuple[str, str], per_second: float, capacity: float, now: float) -> bool:
        """Take one token from the bucket of `key`; False when it has less than one."""
        hashed = hash(key) or 1  # 0 marks an empty slot
        size = self._SLOT.size
        first = (hashed % self._sets) * self._ways
        memory = self._memory
        locked = self._lock.acquire(False)
        try:
            victim, oldest = first, float("inf")
            for slot in range(first, first + self._ways):
                stored, tokens, last = self._SLOT.unpack_from(memory, slot * size)
                if stored == hashed:
                    elapsed = now - last
                    if elapsed > 0:  # a clock that steps back never refills nor drains
                        tokens = min(capacity, tokens + elapsed * per_second)
                        last = now
                    break
                age = float("-inf") if stored == 0 else last
                if age < oldest:
                    victim, oldest = slot, age
            else:
                slot, tokens, last = victim, capacity, now
            if tokens < _ONE_TOKEN:
                self._SLOT.pack_into(memory, slot * size, hashed, tokens, last)
                return False
            self._SLOT.pack_into(memory, slot * size, hashed, tokens - 1.0, last)
            return True
        finally:
            if locked:
                self._lock.release()


class TokenBucketThrottle:
    """Token buckets keyed by (account, operation), refilled lazily from an injected clock.

    `replica_share` is the number of replicas sharing the quota: each replica enforces
    rate/replica_share (and burst/replica_share, at least one token), so behind an even load
    balancer the fleet as a whole admits about the configured rate. `shared` keeps the buckets
    in memory shared by the worker processes of one replica (`--workers`).
    """

    def __init__(
        self,
        rates: Mapping[str, RateSpec] = DEFAULT_RATES,
        *,
        clock: Callable[[], float],
        default_rate: RateSpec = DEFAULT_OTHER_RATE,
        replica_share: float = 1,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
        shared: SharedBuckets | None = None,
    ) -> None:
        if replica_share < 1:
            raise ValueError(f"replica_share must be at least 1, got {replica_share}")
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be at least 1, got {max_buckets}")
        self._clock = clock
        self._limits = {name: _limit(spec, replica_share) for name, spec in rates.items()}
        self._default = _limit(default_rate, replica_share)
        self._max_buckets = max_buckets
        self._shared = shared
        # (account, operation) → [tokens, last refill time]; order = least recently used first.
        self._buckets: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def limit_of(self, operation: str) -> tuple[float, float] | None:
        """(rate per second, burst) this replica enforces for the operation; None = unlimited."""
        limit = self._limits.get(operation, self._default)
        return None if limit is None else (limit.per_second, limit.capacity)

    def check(self, account_id: str, operation: str) -> None:
        """Take one token or raise TooManyRequestsException("Rate exceeded")."""
        limit = self._limits.get(operation, self._default)
        if limit is None:
            return
        now = self._clock()
        key = (account_id, operation)
        if self._shared is not None:
            if not self._shared.take(key, limit.per_second, limit.capacity, now):
                raise TooManyRequestsException(RATE_EXCEEDED)
            return
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [limit.capacity, now]
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_buckets:
                # Evicting the least recently used bucket: an idle bucket has refilled anyway, so
                # forgetting it is lossless once it is full and only slightly permissive before.
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = now - bucket[1]
            if elapsed > 0:  # a clock that steps back never refills nor drains
                bucket[0] = min(limit.capacity, bucket[0] + elapsed * limit.per_second)
                bucket[1] = now
        if bucket[0] < _ONE_TOKEN:
            raise TooManyRequestsException(RATE_EXCEEDED)
        bucket[0] -= 1.0
