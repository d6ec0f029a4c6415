"""Request-rate quotas: one token bucket per (account, operation) → TooManyRequestsException.

Runs in the pipeline after authentication and constraints, just before the service call, so
malformed requests never spend tokens. AWS applies these quotas per account and region; one idpool
process serves one region, so (account, operation) is the key.

Everything runs on the event loop thread: no locks, O(1) per check, and a bounded LRU of buckets
so an unbounded number of accounts cannot grow memory.
"""

from __future__ import annotations

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


class TokenBucketThrottle:
    """Token buckets keyed by (account, operation), refilled lazily from an injected clock.

    `replica_share` is the number of replicas sharing the quota: each replica enforces
    rate/replica_share (and burst/replica_share, at least one token), so behind an even load
    balancer the fleet as a whole admits about the configured rate.
    """

    def __init__(
        self,
        rates: Mapping[str, RateSpec] = DEFAULT_RATES,
        *,
        clock: Callable[[], float],
        default_rate: RateSpec = DEFAULT_OTHER_RATE,
        replica_share: float = 1,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> None:
        if replica_share < 1:
            raise ValueError(f"replica_share must be at least 1, got {replica_share}")
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be at least 1, got {max_buckets}")
        self._clock = clock
        self._limits = {name: _limit(spec, replica_share) for name, spec in rates.items()}
        self._default = _limit(default_rate, replica_share)
        self._max_buckets = max_buckets
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
