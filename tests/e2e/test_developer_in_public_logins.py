"""The pool's developer provider name in the Logins map of a public call.

AWS answers `InvalidParameterException: Please provide a valid public provider.` (seen from
GetCredentialsForIdentity in public SDK samples and issues; docs/compatibility.md records the
evidence). idpool gives the same answer in every public call that takes Logins, whatever else
the map holds, and stores nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_pools import error_of

DEV = "login.myapp"
REFUSED = ("InvalidParameterException", "Please provide a valid public provider.", 400)
ROLES = {
    "authenticated": "arn:aws:iam::123456789012:role/auth",
    "unauthenticated": "arn:aws:iam::123456789012:role/unauth",
}


@pytest.fixture
def developer_identity(cognito: Any, pool_factory: Any) -> tuple[str, str, str]:
    """(pool id, identity id, idpool's token for it) of a developer-authenticated user."""
    pool_id = pool_factory(DeveloperProviderName=DEV)["IdentityPoolId"]
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=ROLES)
    token = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={DEV: "user-1"}
    )
    return pool_id, token["IdentityId"], token["Token"]


def test_get_credentials_with_developer_name_and_own_token(
    unsigned: Any, cognito: Any, developer_identity: tuple[str, str, str]
) -> None:
    """What some SDK credential objects send: the developer login next to the Cognito token."""
    _, identity_id, token = developer_identity
    for logins in (
        {DEV: "user-1", "cognito-identity.amazonaws.com": token},
        {"cognito-identity.amazonaws.com": token, DEV: "user-1"},
        {DEV: "user-1"},
    ):
        with pytest.raises(ClientError) as exc:
            unsigned.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
        assert error_of(exc) == REFUSED, logins
    # The identity is untouched and still works with its token alone.
    assert cognito.describe_identity(IdentityId=identity_id)["Logins"] == [DEV]
    creds = unsigned.get_credentials_for_identity(
        IdentityId=identity_id, Logins={"cognito-identity.amazonaws.com": token}
    )
    assert creds["IdentityId"] == identity_id


def test_get_open_id_token_with_developer_name(
    unsigned: Any, developer_identity: tuple[str, str, str]
) -> None:
    _, identity_id, token = developer_identity
    with pytest.raises(ClientError) as exc:
        unsigned.get_open_id_token(
            IdentityId=identity_id, Logins={DEV: "user-1", "cognito-identity.amazonaws.com": token}
        )
    assert error_of(exc) == REFUSED


def test_get_id_with_developer_name_creates_nothing(
    unsigned: Any, cognito: Any, developer_identity: tuple[str, str, str]
) -> None:
    pool_id, identity_id, _ = developer_identity
    with pytest.raises(ClientError) as exc:
        unsigned.get_id(IdentityPoolId=pool_id, Logins={DEV: "someone-else"})
    assert error_of(exc) == REFUSED
    listed = cognito.list_identities(IdentityPoolId=pool_id, MaxResults=10)["Identities"]
    assert [i["IdentityId"] for i in listed] == [identity_id]


def test_unlink_identity_with_developer_name(
    unsigned: Any, cognito: Any, developer_identity: tuple[str, str, str]
) -> None:
    _, identity_id, _ = developer_identity
    with pytest.raises(ClientError) as exc:
        unsigned.unlink_identity(
            IdentityId=identity_id, Logins={DEV: "user-1"}, LoginsToRemove=[DEV]
        )
    assert error_of(exc) == REFUSED
    assert cognito.describe_identity(IdentityId=identity_id)["Logins"] == [DEV]


def test_other_pools_keep_logins_dont_match(unsigned: Any, pool_factory: Any) -> None:
    """A name that is the developer provider of no pool involved is just an unknown key."""
    pool_id = pool_factory()["IdentityPoolId"]
    with pytest.raises(ClientError) as exc:
        unsigned.get_id(IdentityPoolId=pool_id, Logins={DEV: "user-1"})
    assert error_of(exc)[0] == "NotAuthorizedException"
