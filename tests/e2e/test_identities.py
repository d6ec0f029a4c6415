"""GetId, DescribeIdentity, ListIdentities, DeleteIdentities, UnlinkIdentity: the state machine.

The server runs in trust mode here, so a non-JWT login token is its own subject; real token
verification is tested in the provider tests.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_pools import error_of

FB = "graph.facebook.com"
GOOGLE = "accounts.google.com"
IDENTITY_ID = re.compile(r"us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def social_pool(pool_factory: Any) -> str:
    pool = pool_factory(SupportedLoginProviders={FB: "app1", GOOGLE: "client.apps"})
    return str(pool["IdentityPoolId"])


def test_guest_gets_a_new_identity_each_call(unsigned: Any, social_pool: str) -> None:
    first = unsigned.get_id(IdentityPoolId=social_pool)["IdentityId"]
    second = unsigned.get_id(IdentityPoolId=social_pool, Logins={})["IdentityId"]
    assert IDENTITY_ID.fullmatch(first) and IDENTITY_ID.fullmatch(second)
    assert first != second


def test_guest_refused_when_pool_disallows(unsigned: Any, pool_factory: Any) -> None:
    pool = pool_factory(AllowUnauthenticatedIdentities=False)
    with pytest.raises(ClientError) as exc:
        unsigned.get_id(IdentityPoolId=pool["IdentityPoolId"])
    assert error_of(exc) == (
        "NotAuthorizedException",
        "Unauthenticated access is not supported for this identity pool.",
        400,
    )


def test_same_login_same_identity(unsigned: Any, social_pool: str) -> None:
    a = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "alice"})["IdentityId"]
    b = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "alice"})["IdentityId"]
    c = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "bob"})["IdentityId"]
    assert a == b != c


def test_new_login_on_known_identity_links(cognito: Any, unsigned: Any, social_pool: str) -> None:
    a = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "carol"})["IdentityId"]
    b = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "carol", GOOGLE: "carol-g"})[
        "IdentityId"
    ]
    assert a == b
    assert sorted(cognito.describe_identity(IdentityId=a)["Logins"]) == [GOOGLE, FB]
    assert (
        unsigned.get_id(IdentityPoolId=social_pool, Logins={GOOGLE: "carol-g"})["IdentityId"] == a
    )


def test_logins_of_two_identities_merge(cognito: Any, unsigned: Any, social_pool: str) -> None:
    fb = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "dave"})["IdentityId"]
    google = unsigned.get_id(IdentityPoolId=social_pool, Logins={GOOGLE: "dave-g"})["IdentityId"]
    assert fb != google
    merged = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "dave", GOOGLE: "dave-g"})[
        "IdentityId"
    ]
    assert merged == fb
    loser = google
    assert sorted(cognito.describe_identity(IdentityId=merged)["Logins"]) == [GOOGLE, FB]
    assert cognito.describe_identity(IdentityId=loser)["Logins"] == []
    listed = cognito.list_identities(IdentityPoolId=social_pool, MaxResults=60)["Identities"]
    assert loser in {i["IdentityId"] for i in listed}
    visible = cognito.list_identities(IdentityPoolId=social_pool, MaxResults=60, HideDisabled=True)
    assert loser not in {i["IdentityId"] for i in visible["Identities"]}


def test_two_users_of_one_provider_conflict(unsigned: Any, social_pool: str) -> None:
    unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "erin", GOOGLE: "erin-g"})
    unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "frank"})
    with pytest.raises(ClientError) as exc:
        unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "frank", GOOGLE: "erin-g"})
    assert error_of(exc)[0] == "ResourceConflictException"


def test_unsupported_login_key_is_refused(unsigned: Any, social_pool: str) -> None:
    with pytest.raises(ClientError) as exc:
        unsigned.get_id(IdentityPoolId=social_pool, Logins={"www.amazon.com": "tok"})
    assert error_of(exc) == (
        "NotAuthorizedException",
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
        400,
    )


def test_developer_provider_not_accepted_in_get_id(unsigned: Any, pool_factory: Any) -> None:
    pool = pool_factory(DeveloperProviderName="dev.example")
    with pytest.raises(ClientError) as exc:
        unsigned.get_id(IdentityPoolId=pool["IdentityPoolId"], Logins={"dev.example": "u1"})
    assert error_of(exc) == (
        "InvalidParameterException",
        "Please provide a valid public provider.",
        400,
    )


def test_unknown_pool_is_not_found(unsigned: Any) -> None:
    missing = "us-east-1:00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as exc:
        unsigned.get_id(IdentityPoolId=missing)
    assert error_of(exc) == (
        "ResourceNotFoundException",
        f"IdentityPool '{missing}' not found.",
        400,
    )


def test_describe_identity_dates_and_logins(cognito: Any, unsigned: Any, social_pool: str) -> None:
    before = time.time() - 5
    guest = unsigned.get_id(IdentityPoolId=social_pool)["IdentityId"]
    described = cognito.describe_identity(IdentityId=guest)
    assert described["IdentityId"] == guest
    assert described["Logins"] == []
    assert described["CreationDate"].timestamp() >= before
    assert described["LastModifiedDate"] >= described["CreationDate"]


def test_list_identities_pages(cognito: Any, unsigned: Any, social_pool: str) -> None:
    made = {unsigned.get_id(IdentityPoolId=social_pool)["IdentityId"] for _ in range(5)}
    seen: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"IdentityPoolId": social_pool, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = cognito.list_identities(**kwargs)
        assert page["IdentityPoolId"] == social_pool
        seen.extend(i["IdentityId"] for i in page["Identities"])
        token = page.get("NextToken")
        if not token:
            break
    assert set(seen) == made and len(seen) == len(made)


def test_next_token_of_another_pool_is_refused(
    cognito: Any, unsigned: Any, pool_factory: Any
) -> None:
    a = pool_factory()["IdentityPoolId"]
    b = pool_factory()["IdentityPoolId"]
    for _ in range(3):
        unsigned.get_id(IdentityPoolId=a)
    token = cognito.list_identities(IdentityPoolId=a, MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as exc:
        cognito.list_identities(IdentityPoolId=b, MaxResults=1, NextToken=token)
    assert error_of(exc)[0] == "InvalidParameterException"


def test_delete_identities(cognito: Any, unsigned: Any, social_pool: str) -> None:
    ids = [unsigned.get_id(IdentityPoolId=social_pool)["IdentityId"] for _ in range(3)]
    missing = "us-east-1:00000000-0000-4000-8000-000000000001"
    result = cognito.delete_identities(IdentityIdsToDelete=[*ids[:2], missing])
    assert result["UnprocessedIdentityIds"] == []
    with pytest.raises(ClientError) as exc:
        cognito.describe_identity(IdentityId=ids[0])
    assert error_of(exc)[0] == "ResourceNotFoundException"
    assert cognito.describe_identity(IdentityId=ids[2])["IdentityId"] == ids[2]


def test_deleted_identity_releases_its_login(cognito: Any, unsigned: Any, social_pool: str) -> None:
    first = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "gina"})["IdentityId"]
    cognito.delete_identities(IdentityIdsToDelete=[first])
    second = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "gina"})["IdentityId"]
    assert second != first


def test_unlink_identity_and_last_login_disables(
    cognito: Any, unsigned: Any, social_pool: str
) -> None:
    identity = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "hank", GOOGLE: "hank-g"})[
        "IdentityId"
    ]
    unsigned.unlink_identity(IdentityId=identity, Logins={FB: "hank"}, LoginsToRemove=[GOOGLE])
    assert cognito.describe_identity(IdentityId=identity)["Logins"] == [FB]
    # the unlinked login is new again
    other = unsigned.get_id(IdentityPoolId=social_pool, Logins={GOOGLE: "hank-g"})["IdentityId"]
    assert other != identity
    unsigned.unlink_identity(IdentityId=identity, Logins={FB: "hank"}, LoginsToRemove=[FB])
    assert cognito.describe_identity(IdentityId=identity)["Logins"] == []
    hidden = cognito.list_identities(IdentityPoolId=social_pool, MaxResults=60, HideDisabled=True)
    assert identity not in {i["IdentityId"] for i in hidden["Identities"]}


def test_unlink_requires_a_linked_login(unsigned: Any, social_pool: str) -> None:
    identity = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "ivan"})["IdentityId"]
    with pytest.raises(ClientError) as exc:
        unsigned.unlink_identity(IdentityId=identity, Logins={FB: "mallory"}, LoginsToRemove=[FB])
    assert error_of(exc)[0] == "NotAuthorizedException"


def test_unlink_provider_not_linked(unsigned: Any, social_pool: str) -> None:
    identity = unsigned.get_id(IdentityPoolId=social_pool, Logins={FB: "judy"})["IdentityId"]
    with pytest.raises(ClientError) as exc:
        unsigned.unlink_identity(IdentityId=identity, Logins={FB: "judy"}, LoginsToRemove=[GOOGLE])
    assert error_of(exc)[0] == "ResourceConflictException"
