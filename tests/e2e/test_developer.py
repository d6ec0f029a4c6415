"""Developer-authenticated identities through boto3: token, lookup, merge, unlink."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_pools import error_of

DEV = "login.example.app"


@pytest.fixture
def dev_pool(pool_factory: Any) -> str:
    pool = pool_factory(
        DeveloperProviderName=DEV, SupportedLoginProviders={"graph.facebook.com": "a"}
    )
    return str(pool["IdentityPoolId"])


def token_for(cognito: Any, pool: str, user: str, **kw: Any) -> dict[str, Any]:
    return dict(
        cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, Logins={DEV: user}, **kw
        )
    )


def test_same_developer_user_same_identity(cognito: Any, dev_pool: str) -> None:
    first = token_for(cognito, dev_pool, "user-1")
    second = token_for(cognito, dev_pool, "user-1")
    assert first["IdentityId"] == second["IdentityId"]
    assert first["Token"].count(".") == 2
    other = token_for(cognito, dev_pool, "user-2")
    assert other["IdentityId"] != first["IdentityId"]
    assert cognito.describe_identity(IdentityId=first["IdentityId"])["Logins"] == [DEV]


def test_wrong_developer_provider(cognito: Any, dev_pool: str, pool_factory: Any) -> None:
    with pytest.raises(ClientError) as exc:
        cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=dev_pool, Logins={"other.dev": "u"}
        )
    assert error_of(exc)[:2] == (
        "NotAuthorizedException",
        "This identity pool does not support the specified developer provider.",
    )
    plain = pool_factory()["IdentityPoolId"]
    with pytest.raises(ClientError) as exc:
        cognito.get_open_id_token_for_developer_identity(IdentityPoolId=plain, Logins={DEV: "u"})
    assert error_of(exc)[0] == "NotAuthorizedException"


def test_guest_becomes_developer_user(cognito: Any, unsigned: Any, dev_pool: str) -> None:
    guest = unsigned.get_id(IdentityPoolId=dev_pool)["IdentityId"]
    result = token_for(cognito, dev_pool, "convert-me", IdentityId=guest)
    assert result["IdentityId"] == guest
    assert cognito.describe_identity(IdentityId=guest)["Logins"] == [DEV]


def test_registered_elsewhere_is_refused(cognito: Any, unsigned: Any, dev_pool: str) -> None:
    token_for(cognito, dev_pool, "taken")
    guest = unsigned.get_id(IdentityPoolId=dev_pool)["IdentityId"]
    with pytest.raises(ClientError) as exc:
        token_for(cognito, dev_pool, "taken", IdentityId=guest)
    assert error_of(exc)[0] == "DeveloperUserAlreadyRegisteredException"


def test_authenticated_identity_needs_one_of_its_logins(cognito: Any, dev_pool: str) -> None:
    owner = token_for(cognito, dev_pool, "owner")["IdentityId"]
    with pytest.raises(ClientError) as exc:
        token_for(cognito, dev_pool, "stranger", IdentityId=owner)
    assert error_of(exc)[:2] == (
        "NotAuthorizedException",
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    )


def test_lookup_both_ways_and_mismatch(cognito: Any, dev_pool: str) -> None:
    a = token_for(cognito, dev_pool, "look-a")["IdentityId"]
    b = token_for(cognito, dev_pool, "look-b")["IdentityId"]
    by_user = cognito.lookup_developer_identity(
        IdentityPoolId=dev_pool, DeveloperUserIdentifier="look-a"
    )
    assert by_user["IdentityId"] == a
    assert by_user["DeveloperUserIdentifierList"] == ["look-a"]
    by_id = cognito.lookup_developer_identity(IdentityPoolId=dev_pool, IdentityId=b)
    assert by_id["DeveloperUserIdentifierList"] == ["look-b"]
    with pytest.raises(ClientError) as exc:
        cognito.lookup_developer_identity(
            IdentityPoolId=dev_pool, IdentityId=b, DeveloperUserIdentifier="look-a"
        )
    assert error_of(exc)[0] == "ResourceConflictException"
    with pytest.raises(ClientError) as exc:
        cognito.lookup_developer_identity(IdentityPoolId=dev_pool)
    assert error_of(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        cognito.lookup_developer_identity(IdentityPoolId=dev_pool, DeveloperUserIdentifier="nobody")
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_merge_and_paged_lookup(cognito: Any, dev_pool: str) -> None:
    destination = token_for(cognito, dev_pool, "dst")["IdentityId"]
    sources = []
    for i in range(4):
        user = f"src-{i}"
        sources.append(token_for(cognito, dev_pool, user)["IdentityId"])
        merged = cognito.merge_developer_identities(
            SourceUserIdentifier=user,
            DestinationUserIdentifier="dst",
            DeveloperProviderName=DEV,
            IdentityPoolId=dev_pool,
        )
        assert merged["IdentityId"] == destination
    assert token_for(cognito, dev_pool, "src-2")["IdentityId"] == destination
    users: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "IdentityPoolId": dev_pool,
            "IdentityId": destination,
            "MaxResults": 2,
        }
        if token:
            kwargs["NextToken"] = token
        page = cognito.lookup_developer_identity(**kwargs)
        users.extend(page["DeveloperUserIdentifierList"])
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(users) == ["dst", "src-0", "src-1", "src-2", "src-3"]
    hidden = cognito.list_identities(IdentityPoolId=dev_pool, MaxResults=60, HideDisabled=True)
    visible_ids = {i["IdentityId"] for i in hidden["Identities"]}
    assert not set(sources) & visible_ids


def test_merge_unknown_user(cognito: Any, dev_pool: str) -> None:
    token_for(cognito, dev_pool, "exists")
    with pytest.raises(ClientError) as exc:
        cognito.merge_developer_identities(
            SourceUserIdentifier="ghost",
            DestinationUserIdentifier="exists",
            DeveloperProviderName=DEV,
            IdentityPoolId=dev_pool,
        )
    assert error_of(exc)[0] == "ResourceNotFoundException"


def test_unlink_developer_identity(cognito: Any, dev_pool: str) -> None:
    identity = token_for(cognito, dev_pool, "leaver")["IdentityId"]
    with pytest.raises(ClientError) as exc:
        cognito.unlink_developer_identity(
            IdentityId=identity,
            IdentityPoolId=dev_pool,
            DeveloperProviderName=DEV,
            DeveloperUserIdentifier="someone-else",
        )
    assert error_of(exc)[0] == "ResourceConflictException"
    cognito.unlink_developer_identity(
        IdentityId=identity,
        IdentityPoolId=dev_pool,
        DeveloperProviderName=DEV,
        DeveloperUserIdentifier="leaver",
    )
    assert cognito.describe_identity(IdentityId=identity)["Logins"] == []
    again = token_for(cognito, dev_pool, "leaver")["IdentityId"]
    assert again != identity
