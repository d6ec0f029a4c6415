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
    # Nothing changed.
    described = world["admin"].describe_identity_pool(IdentityPoolId=pool)
    assert described["IdentityPoolName"] == "vended_pool"


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


# --- issue 17 §2: verifiable on any replica, revocable, expiring -------------------------


@pytest.fixture(scope="module")
def replica(strict_server: LiveServer) -> Iterator[LiveServer]:
    """A second server on the same database with the same key secret (nothing else shared)."""
    with live_server(strict_server.settings) as live:
        yield live


def _code(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"])


def test_credentials_vended_by_one_replica_verify_on_another(
    strict_server: LiveServer, replica: LiveServer, world: dict[str, Any]
) -> None:
    _, credentials = guest_credentials(strict_server, world["pool"])
    on_replica = _client_with(replica, credentials)
    # botocore sends public operations unsigned, so an admin call is what proves the signature
    # verified: AccessDenied comes after verification (a bad key would be Unrecognized).
    assert _code(lambda: on_replica.list_identity_pools(MaxResults=5)) == "AccessDeniedException"


def test_credentials_stop_verifying_when_the_identity_is_deleted(
    strict_server: LiveServer, replica: LiveServer, world: dict[str, Any]
) -> None:
    identity, credentials = guest_credentials(strict_server, world["pool"])
    guest = _client_with(strict_server, credentials)
    assert _code(lambda: guest.list_identity_pools(MaxResults=5)) == "AccessDeniedException"
    world["admin"].delete_identities(IdentityIdsToDelete=[identity])
    for server in (strict_server, replica):
        client = _client_with(server, credentials)
        assert _code(lambda c=client: c.list_identity_pools(MaxResults=5)) == (
            "UnrecognizedClientException"
        )


def test_credentials_stop_verifying_when_the_identity_is_disabled(
    strict_server: LiveServer, world: dict[str, Any]
) -> None:
    pool, admin = world["pool"], world["admin"]
    token = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={"dev.vended": "to-unlink"}
    )
    unsigned = make_client(strict_server.url, signed=False)
    credentials = unsigned.get_credentials_for_identity(
        IdentityId=token["IdentityId"], Logins={"cognito-identity.amazonaws.com": token["Token"]}
    )["Credentials"]
    user = _client_with(strict_server, credentials)
    assert user.describe_identity_pool(IdentityPoolId=pool)["IdentityPoolId"] == pool
    admin.unlink_developer_identity(
        IdentityId=token["IdentityId"],
        IdentityPoolId=pool,
        DeveloperProviderName="dev.vended",
        DeveloperUserIdentifier="to-unlink",
    )
    code = _code(lambda: user.describe_identity_pool(IdentityPoolId=pool))
    assert code == "UnrecognizedClientException"


def test_expired_and_tampered_credentials_are_refused(
    strict_server: LiveServer, world: dict[str, Any]
) -> None:
    import time

    from idpool.domain.records import VendedSession
    from idpool.vending.sealed import CredentialSealer

    identity, credentials = guest_credentials(strict_server, world["pool"])
    # Minted by "another replica" (same key secret) one second in the past.
    sealer = CredentialSealer(strict_server.settings.key_secret or "")
    past = VendedSession(
        "333333333333", GUEST_ROLE, "s", identity, world["pool"], False, "", time.time() - 1
    )
    old = sealer.mint(past)
    expired = {
        "AccessKeyId": old.access_key_id,
        "SecretKey": old.secret_key,
        "SessionToken": old.session_token,
    }
    call = _client_with(strict_server, expired).list_identity_pools
    assert _code(lambda: call(MaxResults=5)) == "ExpiredTokenException"
    wrong_secret = {**credentials, "SecretKey": credentials["SecretKey"][:-1] + "x"}
    call = _client_with(strict_server, wrong_secret).list_identity_pools
    assert _code(lambda: call(MaxResults=5)) == "InvalidSignatureException"
    swapped = {**credentials, "SessionToken": old.session_token}
    call = _client_with(strict_server, swapped).list_identity_pools
    assert _code(lambda: call(MaxResults=5)) == "UnrecognizedClientException"


def test_credentials_of_a_merged_away_identity_stop_verifying(
    strict_server: LiveServer, world: dict[str, Any]
) -> None:
    pool, admin = world["pool"], world["admin"]
    unsigned = make_client(strict_server.url, signed=False)

    def credentials_of(user_id: str) -> tuple[str, dict[str, Any]]:
        token = admin.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, Logins={"dev.vended": user_id}
        )
        answer = unsigned.get_credentials_for_identity(
            IdentityId=token["IdentityId"],
            Logins={"cognito-identity.amazonaws.com": token["Token"]},
        )
        return token["IdentityId"], answer["Credentials"]

    source, source_credentials = credentials_of("merge-source")
    target, target_credentials = credentials_of("merge-target")
    assert source != target
    merged = admin.merge_developer_identities(
        SourceUserIdentifier="merge-source",
        DestinationUserIdentifier="merge-target",
        DeveloperProviderName="dev.vended",
        IdentityPoolId=pool,
    )
    assert merged["IdentityId"] == target
    gone = _client_with(strict_server, source_credentials)
    assert _code(lambda: gone.describe_identity_pool(IdentityPoolId=pool)) == (
        "UnrecognizedClientException"
    )
    kept = _client_with(strict_server, target_credentials)
    assert kept.describe_identity_pool(IdentityPoolId=pool)["IdentityPoolId"] == pool
