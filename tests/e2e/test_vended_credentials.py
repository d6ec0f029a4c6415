"""Vended credentials are never account admins (issue 12 §5), through boto3 on a strict server.

A guest's credentials from GetCredentialsForIdentity used to be registered as the pool's
account: they could list, reconfigure and delete every pool of it. Now an admin call signed with
them is refused with AWS's AccessDeniedException, unless the operator's roles file allows that
operation for that role.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.support.live import LiveServer, live_server, settings_for_tests

ADMIN = ("AKIAVENDADMIN0000001", "admin-secret", "333333333333")
GUEST_ROLE = "arn:aws:iam::333333333333:role/Cognito_Guest"
USER_ROLE = "arn:aws:iam::333333333333:role/Cognito_User"


@pytest.fixture(scope="module")
def strict_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("vended")
    keys = folder / "keys.yaml"
    keys.write_text(
        f'- access_key_id: {ADMIN[0]}\n  secret_access_key: {ADMIN[1]}\n  account_id: "{ADMIN[2]}"\n'
    )
    roles = folder / "roles.yaml"
    roles.write_text(
        f"roles:\n  - role_arn: {USER_ROLE}\n    admin_operations: [DescribeIdentityPool]\n"
    )
    settings = settings_for_tests(
        database_url,
        auth_mode="strict",
        credentials_file=str(keys),
        accept_vended_credentials=True,
        roles_file=str(roles),
    )
    with live_server(settings) as live:
        yield live


@pytest.fixture(scope="module")
def world(strict_server: LiveServer) -> dict[str, Any]:
    admin = make_client(
        strict_server.url, aws_access_key_id=ADMIN[0], aws_secret_access_key=ADMIN[1]
    )
    pool = admin.create_identity_pool(
        IdentityPoolName="vended_pool",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName="dev.vended",
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool, Roles={"unauthenticated": GUEST_ROLE, "authenticated": USER_ROLE}
    )
    return {"admin": admin, "pool": pool}


def _client_with(server: LiveServer, credentials: dict[str, Any]) -> Any:
    return make_client(
        server.url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"],
    )


def guest_credentials(server: LiveServer, pool: str) -> tuple[str, dict[str, Any]]:
    unsigned = make_client(server.url, signed=False)
    identity = unsigned.get_id(IdentityPoolId=pool)["IdentityId"]
    answer = unsigned.get_credentials_for_identity(IdentityId=identity)
    return identity, answer["Credentials"]


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    error = exc.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Message"])


def test_guest_credentials_cannot_delete_or_list_the_accounts_pools(
    strict_server: LiveServer, world: dict[str, Any]
) -> None:
    _, credentials = guest_credentials(strict_server, world["pool"])
    guest = _client_with(strict_server, credentials)
    pool = world["pool"]
    message = _denied(lambda: guest.delete_identity_pool(IdentityPoolId=pool))
    assert message == (
        "User: arn:aws:sts::333333333333:assumed-role/Cognito_Guest/CognitoIdentityCredentials "
        "is not authorized to perform: cognito-identity:DeleteIdentityPool on resource: "
        f"arn:aws:cognito-identity:us-east-1:333333333333:identitypool/{pool} because no "
        "identity-based policy allows the cognito-identity:DeleteIdentityPool action"
    )
    listed = _denied(lambda: guest.list_identity_pools(MaxResults=10))
    assert "cognito-identity:ListIdentityPools on resource: " in listed
    assert "arn:aws:cognito-identity:us-east-1:333333333333:identitypool/*" in listed
    _denied(
        lambda: guest.update_identity_pool(
            IdentityPoolId=pool, IdentityPoolName="taken", AllowUnauthenticatedIdentities=True
        )
    )
    _denied(lambda: guest.describe_identity_pool(IdentityPoolId=pool))
    # Nothing changed, and the same credentials still sign public calls.
    described = world["admin"].describe_identity_pool(IdentityPoolId=pool)
    assert described["IdentityPoolName"] == "vended_pool"
    assert guest.get_id(IdentityPoolId=pool)["IdentityId"]


def test_the_roles_file_allows_exactly_the_listed_operations_for_the_listed_role(
    strict_server: LiveServer, world: dict[str, Any]
) -> None:
    pool = world["pool"]
    token = world["admin"].get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={"dev.vended": "user-1"}
    )
    unsigned = make_client(strict_server.url, signed=False)
    answer = unsigned.get_credentials_for_identity(
        IdentityId=token["IdentityId"], Logins={"cognito-identity.amazonaws.com": token["Token"]}
    )
    user = _client_with(strict_server, answer["Credentials"])
    assert user.describe_identity_pool(IdentityPoolId=pool)["IdentityPoolId"] == pool
    message = _denied(lambda: user.delete_identity_pool(IdentityPoolId=pool))
    assert message.startswith(
        "User: arn:aws:sts::333333333333:assumed-role/Cognito_User/CognitoIdentityCredentials "
    )
    _denied(lambda: user.list_identity_pools(MaxResults=10))
    assert world["admin"].describe_identity_pool(IdentityPoolId=pool)["IdentityPoolId"] == pool
