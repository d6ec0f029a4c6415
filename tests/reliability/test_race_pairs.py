"""The four interleavings that broke "no login is linked to a disabled identity" on PostgreSQL.

Each test runs two calls at once through boto3, on fresh developer users, several times over.
A merge disables its source identity; the call racing it read the owner of a login before the
merge committed and locked that identity after, so without a re-read under the lock it linked
a login to (or moved developer users onto) an identity that was already disabled. Against the
unfixed transaction logic every pair broke the invariant in (nearly) every trial on PostgreSQL;
SQLite serializes writers and never did. After every trial the link graph is checked with SQL
(scoped to the test's pool) and through the API: every login and developer user resolves, through
GetId and LookupDeveloperIdentity, to an identity that ListIdentities(HideDisabled) still shows.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.reliability.support import link_violations

DEV = "login.race"
FB = "graph.facebook.com"
GOOGLE = "accounts.google.com"
TRIALS = 6

Call = Callable[[], dict[str, Any]]


@pytest.fixture
def race_pool(pool_factory: Any) -> str:
    pool = pool_factory(DeveloperProviderName=DEV, SupportedLoginProviders={FB: "a", GOOGLE: "b"})
    return str(pool["IdentityPoolId"])


def at_once(first: Call, second: Call) -> list[dict[str, Any] | ClientError]:
    """Run both calls released by one barrier; each answer or its AWS error."""
    barrier = threading.Barrier(2)

    def run(call: Call) -> dict[str, Any] | ClientError:
        barrier.wait()
        try:
            return call()
        except ClientError as exc:
            return exc

    with ThreadPoolExecutor(2) as executor:
        return list(executor.map(run, [first, second]))


def developer_user(cognito: Any, pool: str, user: str, **logins: str) -> str:
    answer = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={DEV: user, **logins}
    )
    return str(answer["IdentityId"])


def merge(cognito: Any, pool: str, source: str, destination: str) -> Call:
    return partial(
        cognito.merge_developer_identities,
        SourceUserIdentifier=source,
        DestinationUserIdentifier=destination,
        DeveloperProviderName=DEV,
        IdentityPoolId=pool,
    )


def visible_identities(cognito: Any, pool: str) -> set[str]:
    seen: set[str] = set()
    kwargs: dict[str, Any] = {"IdentityPoolId": pool, "MaxResults": 60, "HideDisabled": True}
    while True:
        page = cognito.list_identities(**kwargs)
        seen.update(i["IdentityId"] for i in page["Identities"])
        if not page.get("NextToken"):
            return seen
        kwargs["NextToken"] = page["NextToken"]


def assert_consistent(
    cognito: Any,
    unsigned: Any,
    database_url: str,
    pool: str,
    answers: list[dict[str, Any] | ClientError],
    developer_users: list[str],
    logins: dict[str, str],
) -> None:
    assert link_violations(database_url, pool) == {}
    for answer in answers:
        if isinstance(answer, ClientError):
            # A lost race is an AWS answer of the operation, never an internal error.
            assert answer.response["Error"]["Code"] != "InternalErrorException", answer
    # The racing calls' own answers may name an identity the other call disabled after them
    # (that order is legitimate); what must hold is the state both calls leave behind.
    visible = visible_identities(cognito, pool)
    for user in developer_users:
        try:
            found = cognito.lookup_developer_identity(
                IdentityPoolId=pool, DeveloperUserIdentifier=user
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ResourceNotFoundException", exc
            continue
        assert found["IdentityId"] in visible, (user, found["IdentityId"])
    for provider, subject in logins.items():
        got = unsigned.get_id(IdentityPoolId=pool, Logins={provider: subject})
        assert got["IdentityId"] in visible, (provider, subject)


def test_merge_races_developer_token_with_a_new_login(
    cognito: Any, unsigned: Any, database_url: str, race_pool: str
) -> None:
    """Merge(A → B) ‖ GetOpenIdTokenForDeveloperIdentity{A, Facebook: new}."""
    for _ in range(TRIALS):
        tag = uuid.uuid4().hex[:8]
        a, b, fb = f"a-{tag}", f"b-{tag}", f"fb-{tag}"
        developer_user(cognito, race_pool, a)
        developer_user(cognito, race_pool, b)
        answers = at_once(
            merge(cognito, race_pool, a, b),
            partial(
                cognito.get_open_id_token_for_developer_identity,
                IdentityPoolId=race_pool,
                Logins={DEV: a, FB: fb},
            ),
        )
        assert_consistent(cognito, unsigned, database_url, race_pool, answers, [a, b], {FB: fb})


def test_merge_races_unlinking_the_destination(
    cognito: Any, unsigned: Any, database_url: str, race_pool: str
) -> None:
    """Merge(A → B) ‖ UnlinkDeveloperIdentity(B's identity, B)."""
    for _ in range(TRIALS):
        tag = uuid.uuid4().hex[:8]
        a, b = f"a-{tag}", f"b-{tag}"
        developer_user(cognito, race_pool, a)
        identity_b = developer_user(cognito, race_pool, b)
        answers = at_once(
            merge(cognito, race_pool, a, b),
            partial(
                cognito.unlink_developer_identity,
                IdentityId=identity_b,
                IdentityPoolId=race_pool,
                DeveloperProviderName=DEV,
                DeveloperUserIdentifier=b,
            ),
        )
        assert_consistent(cognito, unsigned, database_url, race_pool, answers, [a, b], {})


def test_merge_races_get_id_linking_a_new_login(
    cognito: Any, unsigned: Any, database_url: str, race_pool: str
) -> None:
    """Merge(A → B) ‖ GetId{Facebook: A's login, Google: new}."""
    for _ in range(TRIALS):
        tag = uuid.uuid4().hex[:8]
        a, b, fb, google = f"a-{tag}", f"b-{tag}", f"fb-{tag}", f"g-{tag}"
        developer_user(cognito, race_pool, a, **{FB: fb})
        developer_user(cognito, race_pool, b)
        answers = at_once(
            merge(cognito, race_pool, a, b),
            partial(unsigned.get_id, IdentityPoolId=race_pool, Logins={FB: fb, GOOGLE: google}),
        )
        assert_consistent(
            cognito, unsigned, database_url, race_pool, answers, [a, b], {FB: fb, GOOGLE: google}
        )


def test_merge_races_merge_of_its_destination(
    cognito: Any, unsigned: Any, database_url: str, race_pool: str
) -> None:
    """Merge(B → C) ‖ Merge(A → B)."""
    for _ in range(TRIALS):
        tag = uuid.uuid4().hex[:8]
        a, b, c = f"a-{tag}", f"b-{tag}", f"c-{tag}"
        for user in (a, b, c):
            developer_user(cognito, race_pool, user)
        answers = at_once(merge(cognito, race_pool, b, c), merge(cognito, race_pool, a, b))
        assert_consistent(cognito, unsigned, database_url, race_pool, answers, [a, b, c], {})
