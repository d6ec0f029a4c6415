"""Request-rate quotas through the live server: public calls count against the pool's account.

The server's clock is held still (tests/support/live.py `HeldClock`), so buckets never refill
during a test: a burst admits exactly the quota's burst however slow the machine is (a burst
timed against the wall clock admitted all 40 calls on a loaded machine). Refill arithmetic is
tested with an injected clock in tests/unit/test_throttle.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.support.live import HeldClock, LiveServer, live_server, settings_for_tests


@pytest.fixture(scope="module")
def throttled(database_url: str) -> Iterator[LiveServer]:
    with live_server(settings_for_tests(database_url, throttle=True), clock=HeldClock()) as live:
        yield live


def burst(call: Any, n: int) -> tuple[int, list[dict[str, Any]]]:
    admitted, refused = 0, []
    for _ in range(n):
        try:
            call()
            admitted += 1
        except ClientError as exc:
            refused.append(exc.response)
    return admitted, refused


def test_get_id_burst_is_throttled_per_account(throttled: LiveServer) -> None:
    alice: Any = make_client(throttled.url, aws_access_key_id="111111111111")
    bob: Any = make_client(throttled.url, aws_access_key_id="222222222222")
    public: Any = make_client(throttled.url, signed=False)
    alice_pool = alice.create_identity_pool(
        IdentityPoolName="a", AllowUnauthenticatedIdentities=True
    )["IdentityPoolId"]
    bob_pool = bob.create_identity_pool(IdentityPoolName="b", AllowUnauthenticatedIdentities=True)[
        "IdentityPoolId"
    ]
    admitted, refused = burst(lambda: public.get_id(IdentityPoolId=alice_pool), 40)
    assert admitted == 25  # GetId's quota: a burst of 25, and no refill on a held clock
    assert refused
    error = refused[0]
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Another account's pool has its own quota.
    assert public.get_id(IdentityPoolId=bob_pool)["IdentityId"]


def test_below_the_quota_nothing_is_refused(throttled: LiveServer) -> None:
    admin: Any = make_client(throttled.url, aws_access_key_id="333333333333")
    pool = admin.create_identity_pool(IdentityPoolName="c", AllowUnauthenticatedIdentities=True)[
        "IdentityPoolId"
    ]
    public: Any = make_client(throttled.url, signed=False)
    admitted, refused = burst(lambda: public.get_id(IdentityPoolId=pool), 10)
    assert (admitted, refused) == (10, [])
