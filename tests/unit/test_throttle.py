"""Token-bucket rate quotas with an injected clock: no sleeping."""

from __future__ import annotations

import multiprocessing

import pytest

from idpool.domain.errors import TooManyRequestsException
from idpool.server.throttle import (
    DEFAULT_OTHER_RATE,
    DEFAULT_RATES,
    Rate,
    SharedBuckets,
    TokenBucketThrottle,
)
from idpool.server.workers import SharedGeneration
from idpool.service.pool_cache import PoolCache
from idpool.wire.operations import OPERATIONS

A = "111111111111"
B = "222222222222"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def admitted(throttle: TokenBucketThrottle, account: str, operation: str, attempts: int) -> int:
    ok = 0
    for _ in range(attempts):
        try:
            throttle.check(account, operation)
        except TooManyRequestsException as error:
            assert error.message == "Rate exceeded"
            assert error.code == "TooManyRequestsException"
        else:
            ok += 1
    return ok


def rate_of(operation: str) -> float:
    """The published rate of an operation, through its row's rate key."""
    return DEFAULT_RATES[OPERATIONS[operation].rate_key]


def test_published_defaults() -> None:
    assert rate_of("GetId") == 25
    for name in (
        "GetOpenIdToken",
        "GetCredentialsForIdentity",
        "GetOpenIdTokenForDeveloperIdentity",
    ):
        assert rate_of(name) == 200
    assert (
        rate_of("TagResource"),
        rate_of("UntagResource"),
        rate_of("ListTagsForResource"),
    ) == (5, 5, 10)
    assert OPERATIONS["UnlinkIdentity"].rate_key not in DEFAULT_RATES
    throttle = TokenBucketThrottle(clock=Clock())
    assert throttle.limit_of("DescribeIdentityPool") == (DEFAULT_OTHER_RATE, DEFAULT_OTHER_RATE)


def test_burst_below_quota_passes_and_above_is_throttled() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle(DEFAULT_RATES, clock=clock)
    assert admitted(throttle, A, "TagResource", 5) == 5
    with pytest.raises(TooManyRequestsException, match=r"^Rate exceeded$"):
        throttle.check(A, "TagResource")
    assert admitted(throttle, A, OPERATIONS["GetId"].rate_key, 40) == 25


def test_refill_over_time() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle({"Op": 10.0}, clock=clock)
    assert admitted(throttle, A, "Op", 20) == 10
    clock.now += 0.25  # 2.5 tokens back
    assert admitted(throttle, A, "Op", 5) == 2
    clock.now += 0.05  # the leftover half token plus half a token
    assert admitted(throttle, A, "Op", 2) == 1
    clock.now += 3600  # never more than the burst
    assert admitted(throttle, A, "Op", 20) == 10


def test_steady_rate_at_the_quota_is_never_throttled() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle({"Op": 5.0}, clock=clock)
    admitted_count = 0
    for _ in range(100):
        throttle.check(A, "Op")  # raises TooManyRequestsException if throttled
        admitted_count += 1
        clock.now += 0.2
    assert admitted_count == 100


def test_explicit_burst() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle({"Op": Rate(1.0, burst=3)}, clock=clock)
    assert admitted(throttle, A, "Op", 5) == 3
    clock.now += 1
    assert admitted(throttle, A, "Op", 5) == 1


def test_accounts_and_operations_are_isolated() -> None:
    throttle = TokenBucketThrottle({"TagResource": 5.0, "UntagResource": 5.0}, clock=Clock())
    assert admitted(throttle, A, "TagResource", 10) == 5
    assert admitted(throttle, B, "TagResource", 10) == 5
    assert admitted(throttle, A, "UntagResource", 10) == 5


@pytest.mark.parametrize("rate", [0, None])
def test_zero_or_none_is_unlimited(rate: float | None) -> None:
    throttle = TokenBucketThrottle({"Op": rate}, clock=Clock(), default_rate=rate)
    assert admitted(throttle, A, "Op", 1000) == 1000
    assert admitted(throttle, A, "Other", 1000) == 1000
    assert len(throttle) == 0
    assert throttle.limit_of("Op") is None


def test_unlisted_operations_use_the_default_rate() -> None:
    throttle = TokenBucketThrottle({}, clock=Clock(), default_rate=3.0)
    assert admitted(throttle, A, "ListIdentities", 10) == 3


def test_replica_share_divides_rate_and_burst() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle({"GetId": 25.0}, clock=clock, replica_share=5)
    assert throttle.limit_of("GetId") == (5.0, 5.0)
    assert admitted(throttle, A, "GetId", 25) == 5
    clock.now += 1
    assert admitted(throttle, A, "GetId", 25) == 5


def test_replica_share_keeps_at_least_one_token() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle({"TagResource": 5.0}, clock=clock, replica_share=10)
    assert throttle.limit_of("TagResource") == (0.5, 1.0)
    assert admitted(throttle, A, "TagResource", 3) == 1
    clock.now += 2  # 0.5 per second on this replica
    assert admitted(throttle, A, "TagResource", 3) == 1


def test_clock_stepping_back_does_not_refill() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle({"Op": 2.0}, clock=clock)
    assert admitted(throttle, A, "Op", 2) == 2
    clock.now -= 100
    assert admitted(throttle, A, "Op", 2) == 0
    clock.now += 100.5  # back to the original time plus half a second: one token
    assert admitted(throttle, A, "Op", 2) == 1


def test_buckets_are_bounded_and_least_recently_used_are_evicted() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle({"Op": 1.0}, clock=clock, max_buckets=3)
    for account in ("a", "b", "c"):
        throttle.check(account, "Op")
    with pytest.raises(TooManyRequestsException):
        throttle.check("a", "Op")  # touching "a" makes "b" the least recently used
    throttle.check("d", "Op")  # evicts "b"
    assert len(throttle) == 3
    throttle.check("b", "Op")  # a fresh bucket: "b" had been forgotten (evicting "c")
    with pytest.raises(TooManyRequestsException):
        throttle.check("a", "Op")  # "a" survived and is still empty
    for index in range(1000):
        throttle.check(f"acct-{index}", "Op")
    assert len(throttle) == 3


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="replica_share"):
        TokenBucketThrottle(clock=Clock(), replica_share=0)
    with pytest.raises(ValueError, match="negative"):
        TokenBucketThrottle({"Op": -1.0}, clock=Clock())
    with pytest.raises(ValueError, match="max_buckets"):
        TokenBucketThrottle(clock=Clock(), max_buckets=0)


# --- shared by worker processes (--workers) ---------------------------------------------------


def _spend(
    throttle: TokenBucketThrottle, attempts: int, results: multiprocessing.Queue[int]
) -> None:
    results.put(admitted(throttle, A, "GetId", attempts))


def test_shared_buckets_are_one_quota_across_forked_processes() -> None:
    clock = Clock()
    shared = SharedBuckets()
    throttle = TokenBucketThrottle({"GetId": Rate(1.0, burst=10)}, clock=clock, shared=shared)
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[int] = context.Queue()
    child = context.Process(target=_spend, args=(throttle, 6, results))
    child.start()
    child.join(30)
    assert results.get(timeout=10) == 6
    # The parent's view of the same bucket: 4 tokens left, not a fresh 10.
    assert admitted(throttle, A, "GetId", 10) == 4
    assert admitted(throttle, B, "GetId", 10) == 10  # another account, another bucket
    clock.now += 2.0
    assert admitted(throttle, A, "GetId", 10) == 2


def test_shared_buckets_evict_the_least_recently_refilled_slot_of_a_set() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle(
        {"GetId": Rate(1.0, burst=3)}, clock=clock, shared=SharedBuckets(sets=1, ways=2)
    )
    assert admitted(throttle, A, "GetId", 5) == 3
    clock.now += 0.001
    assert admitted(throttle, B, "GetId", 5) == 3
    clock.now += 0.001
    assert admitted(throttle, B, "GetId", 1) == 0  # B used again: A is the older slot
    clock.now += 0.001
    assert admitted(throttle, "333333333333", "GetId", 5) == 3  # a third key evicts A
    assert admitted(throttle, B, "GetId", 1) == 0  # B is remembered, still empty
    assert admitted(throttle, A, "GetId", 5) == 3  # A was forgotten: full, as an LRU eviction


class _PoolClock:
    def now(self) -> float:
        return 0.0


def test_a_pool_change_in_one_process_invalidates_every_cache() -> None:
    from idpool.domain.records import Pool

    changes = SharedGeneration()
    mine = PoolCache(_PoolClock(), ttl=60, shared=changes)
    theirs = PoolCache(_PoolClock(), ttl=60, shared=changes)
    pool = Pool(
        pool_id="us-east-1:p",
        account_id=A,
        region="us-east-1",
        name="p",
        allow_unauthenticated=True,
    )
    seen = theirs.generation()
    theirs.put(pool.pool_id, pool, seen)
    assert theirs.get(pool.pool_id) == (True, pool)
    mine.forget(pool.pool_id)  # this process changed the pool
    assert theirs.get(pool.pool_id) == (False, None)
    # A read that started before the change must not be cached as fresh.
    theirs.put(pool.pool_id, pool, seen)
    assert theirs.get(pool.pool_id) == (False, None)
