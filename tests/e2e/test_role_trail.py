"""The `credentials` audit event is written when an identity's role choice changes, not per call.

GetCredentialsForIdentity must stay write-free in the steady state (docs/console.md#why-this-role):
calls through boto3 against the live server, events read back from the database itself.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from idpool.storage.dialects import make_source
from idpool.storage.sql import SqlStore
from tests.support.live import LiveServer

FIRST = "arn:aws:iam::123456789012:role/trail-first"
SECOND = "arn:aws:iam::123456789012:role/trail-second"


def credentials_events(database_url: str, pool_id: str, identity_id: str) -> list[str]:
    """Details of the identity's `credentials` events, oldest first, from a second connection."""

    async def read() -> list[str]:
        store = SqlStore(make_source(database_url))
        try:
            async with store.transaction(readonly=True) as tx:
                events = await tx.list_events("000000000000", pool_id, identity_id, None, 1000)
        finally:
            await store.close()
        return [e.detail for e in reversed(events) if e.kind == "credentials"]

    return asyncio.run(read())


def test_same_outcome_adds_no_event_and_a_changed_one_does(
    server: LiveServer, database_url: str, cognito: Any, unsigned: Any
) -> None:
    pool_id = cognito.create_identity_pool(
        IdentityPoolName=f"trail_{uuid.uuid4().hex[:6]}", AllowUnauthenticatedIdentities=True
    )["IdentityPoolId"]
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": FIRST})
    identity = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]
    other = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]

    for _ in range(5):
        unsigned.get_credentials_for_identity(IdentityId=identity)
    first = f"{FIRST} · default unauthenticated role"
    assert credentials_events(database_url, pool_id, identity) == [first]

    # Another identity with the same outcome has its own trail.
    unsigned.get_credentials_for_identity(IdentityId=other)
    assert credentials_events(database_url, pool_id, other) == [first]

    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": SECOND})
    for _ in range(3):
        vended = unsigned.get_credentials_for_identity(IdentityId=identity)
        assert vended["Credentials"]["AccessKeyId"]
    second = f"{SECOND} · default unauthenticated role"
    assert credentials_events(database_url, pool_id, identity) == [first, second]

    # Back to the first role: a change again, so one more event.
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": FIRST})
    unsigned.get_credentials_for_identity(IdentityId=identity)
    unsigned.get_credentials_for_identity(IdentityId=identity)
    assert credentials_events(database_url, pool_id, identity) == [first, second, first]


def test_a_refused_call_records_nothing_and_the_next_success_does(
    server: LiveServer, database_url: str, cognito: Any, unsigned: Any
) -> None:
    pool_id = cognito.create_identity_pool(
        IdentityPoolName=f"trail_{uuid.uuid4().hex[:6]}", AllowUnauthenticatedIdentities=True
    )["IdentityPoolId"]
    identity = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]
    # No unauthenticated role: the call fails and must not be remembered as recorded.
    try:
        unsigned.get_credentials_for_identity(IdentityId=identity)
    except unsigned.exceptions.InvalidIdentityPoolConfigurationException:
        pass
    else:
        raise AssertionError("a pool without roles must refuse credentials")
    assert credentials_events(database_url, pool_id, identity) == []
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"unauthenticated": FIRST})
    unsigned.get_credentials_for_identity(IdentityId=identity)
    assert credentials_events(database_url, pool_id, identity) == [
        f"{FIRST} · default unauthenticated role"
    ]
