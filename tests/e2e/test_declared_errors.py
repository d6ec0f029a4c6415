"""Every operation answers only errors its botocore model declares (or AWS's common errors).

How "every error each operation can raise" is enumerated, since no list of raise sites is kept:
- `tests/reliability/support.assert_aws_answer` checks each error answer it sees against the
  operation's model `errors`, read from botocore at run time (plus the domain's
  `ProtocolError` classes: AWS's common errors, answered before any operation runs). Every
  answer of the fuzz (all 23 operations x hostile, model-valid aimed at real resources, one
  broken member, shape-guided junk: tests/reliability/test_fuzz.py, driven by the strategies
  of tests/wire/strategies.py), of the malformed-input suite and of the concurrency storms
  passes through it, so each refusal those reach is checked for its operation.
- What random input cannot reach (a quota, a provider outage) is driven here, one scenario
  per refusal: the 21st linked login through each of the five operations that link, and a
  provider that cannot be reached behind the developer operation.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from idpool.domain.errors import ExternalServiceException, InternalErrorException
from idpool.domain.records import Caller, Pool, VerifiedLogin
from idpool.service.facade import IdentityPoolService
from idpool.service.pools import PoolSpec
from idpool.storage.dialects import make_source
from idpool.storage.migrate import upgrade
from idpool.storage.sql import SqlStore
from tests.e2e.test_pools import error_of
from tests.reliability.support import assert_declared, declared_errors
from tests.support.service import service_deps

OWN = "cognito-identity.amazonaws.com"
DEV = "login.quota.app"
FB = "graph.facebook.com"
GOOGLE = "accounts.google.com"
ROLE = "arn:aws:iam::123456789012:role/quota"
QUOTA = 20  # the session server runs with AWS's default quota of linked logins
OVER_QUOTA = f"An identity can have at most {QUOTA} linked logins."


def refusal(call: Any, **params: Any) -> tuple[str, str]:
    """The error a boto3 call answers, checked against that operation's declared errors."""
    with pytest.raises(ClientError) as exc:
        call(**params)
    assert_declared(exc.value.operation_name, error_of(exc)[0])
    return error_of(exc)[0], error_of(exc)[1]


def test_the_check_refuses_an_undeclared_error() -> None:
    """The yardstick itself: what GetOpenIdToken answered for a 21st login before is caught."""
    assert "LimitExceededException" not in declared_errors("GetOpenIdToken")
    with pytest.raises(AssertionError, match="does not declare"):
        assert_declared("GetOpenIdToken", "LimitExceededException")
    assert_declared("GetOpenIdToken", "ResourceConflictException")
    assert_declared("DeleteIdentities", "ValidationException")  # a common error


def test_a_21st_linked_login_is_a_declared_error_of_every_linking_operation(
    cognito: Any, unsigned: Any, pool_factory: Any
) -> None:
    pool = str(
        pool_factory(
            DeveloperProviderName=DEV, SupportedLoginProviders={FB: "app", GOOGLE: "client"}
        )["IdentityPoolId"]
    )
    cognito.set_identity_pool_roles(
        IdentityPoolId=pool, Roles={"authenticated": ROLE, "unauthenticated": ROLE}
    )
    first = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={DEV: "user-0"}
    )
    full, token = first["IdentityId"], first["Token"]
    for i in range(1, QUOTA - 1):  # 19 developer users, merged onto one identity
        cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, Logins={DEV: f"user-{i}"}
        )
        cognito.merge_developer_identities(
            SourceUserIdentifier=f"user-{i}",
            DestinationUserIdentifier="user-0",
            DeveloperProviderName=DEV,
            IdentityPoolId=pool,
        )
    unsigned.get_open_id_token(IdentityId=full, Logins={OWN: token, FB: "fb-full"})
    users = cognito.lookup_developer_identity(IdentityPoolId=pool, IdentityId=full, MaxResults=60)
    assert len(users["DeveloperUserIdentifierList"]) == QUOTA - 1  # + Facebook: at the quota

    twenty_first = {FB: "fb-full", GOOGLE: "g-new"}
    expected = ("ResourceConflictException", OVER_QUOTA)
    assert refusal(unsigned.get_open_id_token, IdentityId=full, Logins=twenty_first) == expected
    assert (
        refusal(unsigned.get_credentials_for_identity, IdentityId=full, Logins=twenty_first)
        == expected
    )
    assert refusal(unsigned.get_id, IdentityPoolId=pool, Logins=twenty_first) == expected
    assert (
        refusal(
            cognito.get_open_id_token_for_developer_identity,
            IdentityPoolId=pool,
            Logins={DEV: "user-0", GOOGLE: "g-new"},
        )
        == expected
    )
    cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins={DEV: "other"})
    assert (
        refusal(
            cognito.merge_developer_identities,
            SourceUserIdentifier="other",
            DestinationUserIdentifier="user-0",
            DeveloperProviderName=DEV,
            IdentityPoolId=pool,
        )
        == expected
    )
    # Nothing was linked by the refused calls.
    assert sorted(cognito.describe_identity(IdentityId=full)["Logins"]) == [FB, DEV]


class UnreachableProvider:
    """A login verifier whose provider does not answer (what a JWKS outage looks like)."""

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        raise ExternalServiceException("The identity provider could not be reached.")


def test_developer_operation_answers_a_provider_outage_with_a_declared_error(
    tmp_path: Path,
) -> None:
    """GetOpenIdTokenForDeveloperIdentity declares no ExternalServiceException.

    Trust mode (the live test server) never calls a provider, so this drives the service
    on a real SQLite store with a verifier that fails as an unreachable provider does.
    """
    operation = "GetOpenIdTokenForDeveloperIdentity"
    assert "ExternalServiceException" not in declared_errors(operation)

    async def scenario() -> None:
        url = f"sqlite:///{tmp_path / 'outage.sqlite3'}"
        upgrade(url)
        store = SqlStore(make_source(url))
        deps = service_deps(store, UnreachableProvider())
        service = IdentityPoolService(deps)
        caller = Caller(account_id="111111111111")
        pool = await service.pools.create(
            caller,
            PoolSpec(
                name="outage",
                allow_unauthenticated=False,
                developer_provider_name=DEV,
                supported_login_providers={FB: "app"},
            ),
        )
        try:
            with pytest.raises(InternalErrorException) as exc:
                await service.developer.open_id_token(
                    caller, pool.pool_id, None, {DEV: "u", FB: "token"}, None, None
                )
            assert_declared(operation, exc.value.code)
        finally:
            await store.close()

    asyncio.run(scenario())
