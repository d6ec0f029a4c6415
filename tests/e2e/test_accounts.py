"""Strict SigV4 and account isolation through boto3: every admin operation, two accounts.

Account B must not see or change anything of account A's, and a pool id of A's answers B
exactly as a missing pool does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.support.live import LiveServer, live_server, settings_for_tests

ALICE = ("AKIAALICE00000000001", "alice-secret", "111111111111")
BOB = ("AKIABOB0000000000001", "bob-secret", "222222222222")
MISSING_POOL = "us-east-1:00000000-0000-4000-8000-0000000000ff"
MISSING_IDENTITY = "us-east-1:00000000-0000-4000-8000-0000000000fe"


@pytest.fixture(scope="module")
def strict_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    keys = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys.write_text(
        "".join(
            f'- access_key_id: {ak}\n  secret_access_key: {sk}\n  account_id: "{acct}"\n'
            for ak, sk, acct in (ALICE, BOB)
        )
    )
    settings = settings_for_tests(database_url, auth_mode="strict", credentials_file=str(keys))
    with live_server(settings) as live:
        yield live


def client_for(server: LiveServer, who: tuple[str, str, str]) -> Any:
    return make_client(server.url, aws_access_key_id=who[0], aws_secret_access_key=who[1])


@pytest.fixture(scope="module")
def world(strict_server: LiveServer) -> dict[str, Any]:
    alice = client_for(strict_server, ALICE)
    pool = alice.create_identity_pool(
        IdentityPoolName="alice_pool",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName="dev.alice",
        SupportedLoginProviders={"graph.facebook.com": "app"},
    )["IdentityPoolId"]
    token = alice.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={"dev.alice": "user-1"}
    )
    alice.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={"dev.alice": "user-2"}
    )
    return {
        "alice": alice,
        "bob": client_for(strict_server, BOB),
        "pool": pool,
        "identity": token["IdentityId"],
        "arn": f"arn:aws:cognito-identity:us-east-1:{ALICE[2]}:identitypool/{pool}",
    }


def _calls(pool: str, identity: str, arn: str) -> dict[str, Callable[[Any], Any]]:
    name = {"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": True}
    return {
        "DescribeIdentityPool": lambda c: c.describe_identity_pool(IdentityPoolId=pool),
        "UpdateIdentityPool": lambda c: c.update_identity_pool(IdentityPoolId=pool, **name),
        "DeleteIdentityPool": lambda c: c.delete_identity_pool(IdentityPoolId=pool),
        "ListIdentities": lambda c: c.list_identities(IdentityPoolId=pool, MaxResults=5),
        "DescribeIdentity": lambda c: c.describe_identity(IdentityId=identity),
        "GetIdentityPoolRoles": lambda c: c.get_identity_pool_roles(IdentityPoolId=pool),
        "SetIdentityPoolRoles": lambda c: c.set_identity_pool_roles(IdentityPoolId=pool, Roles={}),
        "GetPrincipalTagAttributeMap": lambda c: c.get_principal_tag_attribute_map(
            IdentityPoolId=pool, IdentityProviderName="graph.facebook.com"
        ),
        "SetPrincipalTagAttributeMap": lambda c: c.set_principal_tag_attribute_map(
            IdentityPoolId=pool, IdentityProviderName="graph.facebook.com", UseDefaults=True
        ),
        "ListTagsForResource": lambda c: c.list_tags_for_resource(ResourceArn=arn),
        "TagResource": lambda c: c.tag_resource(ResourceArn=arn, Tags={"k": "v"}),
        "UntagResource": lambda c: c.untag_resource(ResourceArn=arn, TagKeys=["k"]),
        "GetOpenIdTokenForDeveloperIdentity": lambda c: c.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool, Logins={"dev.alice": "user-1"}
        ),
        "LookupDeveloperIdentity": lambda c: c.lookup_developer_identity(
            IdentityPoolId=pool, DeveloperUserIdentifier="user-1"
        ),
        "MergeDeveloperIdentities": lambda c: c.merge_developer_identities(
            SourceUserIdentifier="user-2",
            DestinationUserIdentifier="user-1",
            DeveloperProviderName="dev.alice",
            IdentityPoolId=pool,
        ),
        "UnlinkDeveloperIdentity": lambda c: c.unlink_developer_identity(
            IdentityId=identity,
            IdentityPoolId=pool,
            DeveloperProviderName="dev.alice",
            DeveloperUserIdentifier="user-1",
        ),
    }


def _error(call: Callable[[Any], Any], client: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(client)
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


OPERATIONS = sorted(_calls("p", "i", "a"))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_foreign_resource_answers_like_a_missing_one(world: dict[str, Any], operation: str) -> None:
    foreign = _calls(world["pool"], world["identity"], world["arn"])[operation]
    missing_arn = f"arn:aws:cognito-identity:us-east-1:{BOB[2]}:identitypool/{MISSING_POOL}"
    missing = _calls(MISSING_POOL, MISSING_IDENTITY, missing_arn)[operation]
    code, message = _error(foreign, world["bob"])
    missing_code, missing_message = _error(missing, world["bob"])
    assert code == missing_code == "ResourceNotFoundException"
    expected = (
        missing_message.replace(missing_arn, world["arn"])
        .replace(MISSING_POOL, world["pool"])
        .replace(MISSING_IDENTITY, world["identity"])
    )
    assert message == expected


def test_alice_still_has_everything(world: dict[str, Any]) -> None:
    alice, bob = world["alice"], world["bob"]
    assert (
        alice.describe_identity_pool(IdentityPoolId=world["pool"])["IdentityPoolName"]
        == "alice_pool"
    )
    lookup = alice.lookup_developer_identity(
        IdentityPoolId=world["pool"], IdentityId=world["identity"]
    )
    assert lookup["DeveloperUserIdentifierList"] == ["user-1"]
    assert alice.list_tags_for_resource(ResourceArn=world["arn"])["Tags"] == {}
    bob_pools = bob.list_identity_pools(MaxResults=60)["IdentityPools"]
    assert world["pool"] not in {p["IdentityPoolId"] for p in bob_pools}
    assert bob.delete_identities(IdentityIdsToDelete=[world["identity"]])[
        "UnprocessedIdentityIds"
    ] == [{"IdentityId": world["identity"], "ErrorCode": "AccessDenied"}]
    assert alice.describe_identity(IdentityId=world["identity"])["IdentityId"] == world["identity"]


@pytest.mark.parametrize(
    ("access_key", "secret", "code"),
    [
        ("AKIAUNKNOWN000000001", "whatever", "UnrecognizedClientException"),
        (ALICE[0], "wrong-secret", "InvalidSignatureException"),
    ],
)
def test_bad_credentials_are_refused(
    strict_server: LiveServer, access_key: str, secret: str, code: str
) -> None:
    client = make_client(
        strict_server.url, aws_access_key_id=access_key, aws_secret_access_key=secret
    )
    with pytest.raises(ClientError) as exc:
        client.list_identity_pools(MaxResults=5)
    assert exc.value.response["Error"]["Code"] == code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_public_operations_need_no_signature(
    strict_server: LiveServer, world: dict[str, Any]
) -> None:
    unsigned = make_client(strict_server.url, signed=False)
    identity = unsigned.get_id(IdentityPoolId=world["pool"])["IdentityId"]
    assert unsigned.get_open_id_token(IdentityId=identity)["Token"]
    signed_by_bob = world["bob"].get_id(IdentityPoolId=world["pool"])
    assert signed_by_bob["IdentityId"]


def test_admin_operation_without_signature(strict_server: LiveServer) -> None:
    unsigned = make_client(strict_server.url, signed=False)
    with pytest.raises(ClientError) as exc:
        unsigned.list_identity_pools(MaxResults=5)
    assert exc.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"


def _signed_over_host_and_date(url: str, body: bytes) -> dict[str, str]:
    """Alice's real botocore signature over only `host;x-amz-date` (no operation headers)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=url + "/", data=body, headers={})
    SigV4Auth(Credentials(ALICE[0], ALICE[1]), "cognito-identity", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert "SignedHeaders=host;x-amz-date," in headers["authorization"]
    return headers


def test_operation_header_outside_the_signature_is_refused(
    strict_server: LiveServer, world: dict[str, Any]
) -> None:
    """Issue 12 §4: a signature over host;x-amz-date cannot be re-aimed at DeleteIdentityPool."""
    import json

    import httpx

    body = json.dumps({"IdentityPoolId": world["pool"]}).encode()
    headers = _signed_over_host_and_date(strict_server.url, body)
    tampered = {
        **headers,
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": "AWSCognitoIdentityService.DeleteIdentityPool",
    }
    answer = httpx.post(strict_server.url + "/", content=body, headers=tampered, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["__type"] == "InvalidSignatureException"
    assert "'x-amz-target' must be a 'SignedHeader'" in answer.json()["message"]
    pool = world["alice"].describe_identity_pool(IdentityPoolId=world["pool"])
    assert pool["IdentityPoolName"] == "alice_pool"
