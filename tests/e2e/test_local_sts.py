"""idpool's own STS through real clients: boto3's sts client, its web-identity credential
provider (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN + AWS_ENDPOINT_URL_STS), and the AWS CLI.

The basic flow end to end: GetId → GetOpenIdToken → AssumeRoleWithWebIdentity at idpool's URL →
GetCallerIdentity names the role. Every STS error is provoked with the code STS uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from idpool.service.tokens import build_claims
from idpool.signing.jwt import sign_compact
from tests.conftest import make_client
from tests.support.live import LiveServer, live_server, settings_for_tests

ACCOUNT = "444455556666"
GUEST_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Cognito_StsGuest"
USER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Cognito_StsUser"
MAPPED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/path/Mapped"
DECLARED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/not-trusted"


@pytest.fixture(scope="module")
def sts_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = settings_for_tests(database_url, account_id=ACCOUNT)
    with live_server(settings) as live:
        yield live


@pytest.fixture(scope="module")
def world(sts_server: LiveServer) -> dict[str, Any]:
    admin = make_client(sts_server.url, aws_access_key_id=ACCOUNT)
    pool = admin.create_identity_pool(
        IdentityPoolName="sts_pool",
        AllowUnauthenticatedIdentities=True,
        AllowClassicFlow=True,
        DeveloperProviderName="dev.sts",
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool, Roles={"unauthenticated": GUEST_ROLE, "authenticated": USER_ROLE}
    )
    return {"admin": admin, "pool": pool}


def sts_client(server: LiveServer, **credentials: str) -> Any:
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        parameter_validation=False,  # the server's own checks are under test
        **({} if credentials else {"signature_version": UNSIGNED}),
    )
    return boto3.client(
        "sts", endpoint_url=server.url, region_name="us-east-1", config=config, **credentials
    )


def guest_token(server: LiveServer, pool: str) -> tuple[str, str]:
    unsigned = make_client(server.url, signed=False)
    identity = unsigned.get_id(IdentityPoolId=pool)["IdentityId"]
    return identity, unsigned.get_open_id_token(IdentityId=identity)["Token"]


def user_token(world: dict[str, Any], user: str = "user-1") -> tuple[str, str]:
    answer = world["admin"].get_open_id_token_for_developer_identity(
        IdentityPoolId=world["pool"], Logins={"dev.sts": user}
    )
    return answer["IdentityId"], answer["Token"]


def assume(server: LiveServer, token: str, role: str, **extra: Any) -> dict[str, Any]:
    return dict(
        sts_client(server).assume_role_with_web_identity(
            RoleArn=role,
            RoleSessionName=extra.pop("name", "app-session"),
            WebIdentityToken=token,
            **extra,
        )
    )


def error_of(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call()
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def caller_of(server: LiveServer, credentials: dict[str, Any]) -> dict[str, Any]:
    client = sts_client(
        server,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return dict(client.get_caller_identity())


def test_basic_flow_guest_assumes_the_unauthenticated_role(
    sts_server: LiveServer, world: dict[str, Any]
) -> None:
    identity, token = guest_token(sts_server, world["pool"])
    before = time.time()
    answer = assume(sts_server, token, GUEST_ROLE, name="guest-1", DurationSeconds=900)
    assert answer["SubjectFromWebIdentityToken"] == identity
    assert answer["Audience"] == world["pool"]
    assert answer["Provider"] == sts_server.url
    user = answer["AssumedRoleUser"]
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Cognito_StsGuest/guest-1"
    assert user["AssumedRoleId"].startswith("AROA") and user["AssumedRoleId"].endswith(":guest-1")
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    expires = credentials["Expiration"].timestamp()
    assert before + 899 <= expires <= time.time() + 901
    caller = caller_of(sts_server, credentials)
    assert caller["Arn"] == user["Arn"]
    assert caller["UserId"] == user["AssumedRoleId"]
    assert caller["Account"] == ACCOUNT


def test_authenticated_token_assumes_pool_and_mapped_roles_only(
    sts_server: LiveServer, world: dict[str, Any]
) -> None:
    _, token = user_token(world)
    answer = assume(sts_server, token, USER_ROLE)
    assert caller_of(sts_server, answer["Credentials"])["Arn"].endswith(
        "assumed-role/Cognito_StsUser/app-session"
    )
    code, message, status = error_of(lambda: assume(sts_server, token, GUEST_ROLE))
    assert (code, message, status) == (
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        403,
    )
    code, _, _ = error_of(lambda: assume(sts_server, token, OTHER_ROLE))
    assert code == "AccessDenied"


def test_guest_token_cannot_assume_the_authenticated_role(
    sts_server: LiveServer, world: dict[str, Any]
) -> None:
    _, token = guest_token(sts_server, world["pool"])
    assert error_of(lambda: assume(sts_server, token, USER_ROLE))[0] == "AccessDenied"


def test_enhanced_flow_credentials_name_their_role_in_get_caller_identity(
    sts_server: LiveServer, world: dict[str, Any]
) -> None:
    unsigned = make_client(sts_server.url, signed=False)
    identity = unsigned.get_id(IdentityPoolId=world["pool"])["IdentityId"]
    credentials = unsigned.get_credentials_for_identity(IdentityId=identity)["Credentials"]
    caller = caller_of(
        sts_server,
        {
            "AccessKeyId": credentials["AccessKeyId"],
            "SecretAccessKey": credentials["SecretKey"],
            "SessionToken": credentials["SessionToken"],
        },
    )
    assert caller["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Cognito_StsGuest/CognitoIdentityCredentials"
    )


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        (
            {"name": "x"},
            "at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
        ),
        ({"name": "has space"}, "Member must satisfy regular expression pattern: [\\w+=,.@-]*"),
        (
            {"DurationSeconds": 899},
            "at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
        ),
        ({"DurationSeconds": 43201}, "Member must have value less than or equal to 43200"),
    ],
)
def test_validation_errors_come_from_the_model(
    sts_server: LiveServer, world: dict[str, Any], params: dict[str, Any], fragment: str
) -> None:
    _, token = guest_token(sts_server, world["pool"])
    code, message, status = error_of(lambda: assume(sts_server, token, GUEST_ROLE, **params))
    assert (code, status) == ("ValidationError", 400)
    assert fragment in message


def test_bad_and_expired_tokens(sts_server: LiveServer, world: dict[str, Any]) -> None:
    code, _, status = error_of(lambda: assume(sts_server, "not.a.token", GUEST_ROLE))
    assert (code, status) == ("InvalidIdentityToken", 400)
    identity, token = guest_token(sts_server, world["pool"])
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert error_of(lambda: assume(sts_server, forged, GUEST_ROLE))[0] == "InvalidIdentityToken"
    runtime = sts_server.application.runtime
    assert runtime is not None
    pool = {"pool_id": world["pool"], "region": "us-east-1", "account_id": ACCOUNT}
    expired_claims = build_claims(
        issuer=sts_server.url,
        pool=type("P", (), pool)(),  # type: ignore[arg-type]
        identity_id=identity,
        amr=["unauthenticated"],
        issued_at=time.time() - 700,
        lifetime=600,
    )
    key = runtime.keyring.active
    expired = sign_compact(key.private_key, key.kid, expired_claims)
    code, message, status = error_of(lambda: assume(sts_server, expired, GUEST_ROLE))
    assert (code, status) == ("ExpiredTokenException", 400)
    assert message.startswith("Token expired: current date/time")
    other_issuer = sign_compact(
        key.private_key,
        key.kid,
        {**expired_claims, "iss": "https://x.example", "exp": int(time.time()) + 60},
    )
    code, message, _ = error_of(lambda: assume(sts_server, other_issuer, GUEST_ROLE))
    assert code == "InvalidIdentityToken" and "https://x.example" in message


def test_tokens_of_a_deleted_identity_assume_nothing(
    sts_server: LiveServer, world: dict[str, Any]
) -> None:
    identity, token = guest_token(sts_server, world["pool"])
    answer = assume(sts_server, token, GUEST_ROLE)
    world["admin"].delete_identities(IdentityIdsToDelete=[identity])
    assert error_of(lambda: assume(sts_server, token, GUEST_ROLE))[0] == "InvalidIdentityToken"
    # And what it got before stops naming anyone.
    code, _, status = error_of(lambda: caller_of(sts_server, answer["Credentials"]))
    assert (code, status) == ("InvalidClientTokenId", 403)


def test_signature_errors_use_sts_codes(sts_server: LiveServer, world: dict[str, Any]) -> None:
    _, token = guest_token(sts_server, world["pool"])
    credentials = assume(sts_server, token, GUEST_ROLE)["Credentials"]
    wrong = {**credentials, "SecretAccessKey": "x" * 40}
    code, _, status = error_of(lambda: caller_of(sts_server, wrong))
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    unknown = {**credentials, "AccessKeyId": "ASIAUNKNOWN000000000"}
    assert error_of(lambda: caller_of(sts_server, unknown))[0] == "InvalidClientTokenId"
    unsigned = httpx.post(
        sts_server.url + "/",
        content="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (
        unsigned.status_code == 403
        and b"<Code>MissingAuthenticationToken</Code>" in unsigned.content
    )
    unknown_action = httpx.post(
        sts_server.url + "/",
        content="Action=AssumeRole&Version=2011-06-15",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert unknown_action.status_code == 400
    assert b"<Code>InvalidAction</Code>" in unknown_action.content
    assert unknown_action.content.startswith(
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    )


def test_session_policies_are_refused(sts_server: LiveServer, world: dict[str, Any]) -> None:
    _, token = guest_token(sts_server, world["pool"])
    code, message, _ = error_of(
        lambda: assume(sts_server, token, GUEST_ROLE, Policy='{"Version":"2012-10-17"}')
    )
    assert code == "ValidationError" and "Session policies" in message


def test_boto3_web_identity_provider_through_the_default_chain(
    sts_server: LiveServer, world: dict[str, Any], tmp_path: Path
) -> None:
    """The real test: no code touches STS; boto3's credential chain does it all."""
    _, token = guest_token(sts_server, world["pool"])
    token_file = tmp_path / "token"
    token_file.write_text(token)
    script = (
        "import boto3, json; s = boto3.Session(); "
        "print(json.dumps(s.client('sts').get_caller_identity()['Arn']))"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_ARN=GUEST_ROLE,
        AWS_ROLE_SESSION_NAME="from-provider",
        AWS_ENDPOINT_URL_STS=sts_server.url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (
        run.stdout.strip()
        == f'"arn:aws:sts::{ACCOUNT}:assumed-role/Cognito_StsGuest/from-provider"'
    )


def test_aws_cli_assume_role_with_web_identity(
    sts_server: LiveServer, world: dict[str, Any], tmp_path: Path
) -> None:
    aws = shutil.which("aws") or str(Path(sys.executable).parent / "aws")
    if not Path(aws).exists():
        pytest.skip("the AWS CLI is not installed (pip install awscli)")
    identity, token = guest_token(sts_server, world["pool"])
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none")
    )
    run = subprocess.run(
        [
            aws,
            "sts",
            "assume-role-with-web-identity",
            "--endpoint-url",
            sts_server.url,
            "--region",
            "us-east-1",
            "--role-arn",
            GUEST_ROLE,
            "--role-session-name",
            "cli",
            "--web-identity-token",
            token,
            "--query",
            "SubjectFromWebIdentityToken",
            "--output",
            "text",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == identity


def test_operator_declared_roles_with_trust_conditions(
    sts_server: LiveServer, world: dict[str, Any], tmp_path: Path
) -> None:
    """A second server on the same database, whose roles file trusts this pool's signed-in users."""
    roles = tmp_path / "roles.yaml"
    roles.write_text(
        f"roles:\n  - role_arn: {DECLARED_ROLE}\n    trust:\n"
        f'      aud: ["{world["pool"]}"]\n      amr: [authenticated]\n'
    )
    from dataclasses import replace

    with live_server(
        replace(sts_server.settings, roles_file=str(roles), port=0, issuer_url=sts_server.url)
    ) as other:
        _, token = user_token(world, "declared-user")
        answer = assume(other, token, DECLARED_ROLE, name="deploy")
        assert answer["AssumedRoleUser"]["Arn"] == (
            f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/deploy"
        )
        _, guest = guest_token(other, world["pool"])
        assert error_of(lambda: assume(other, guest, DECLARED_ROLE))[0] == "AccessDenied"
    # The first server has no roles file: the same token may not assume the declared role.
    assert error_of(lambda: assume(sts_server, token, DECLARED_ROLE))[0] == "AccessDenied"


def test_credential_mode_sts_answers_a_clear_error_for_aws_credentials(database_url: str) -> None:
    settings = settings_for_tests(
        database_url, credential_mode="sts", sts_endpoint="http://127.0.0.1:9"
    )
    with live_server(settings) as server:
        aws_credentials = {
            "AccessKeyId": "ASIAAWSISSUED0000001",
            "SecretAccessKey": "s" * 40,
            "SessionToken": "FwoGZXIvYXdzEaws-token",
        }
        code, message, status = error_of(lambda: caller_of(server, aws_credentials))
    assert (code, status) == ("InvalidClientTokenId", 403)
    assert "--credential-mode sts" in message and "AWS STS" in message


@pytest.mark.node
def test_js_sdk_v3_from_web_token(sts_server: LiveServer, world: dict[str, Any]) -> None:
    from tests.support.node import require_node, run_scenario

    require_node()
    _, token = guest_token(sts_server, world["pool"])
    params = {
        "endpoint": sts_server.url,
        "region": "us-east-1",
        "roleArn": GUEST_ROLE,
        "webIdentityToken": token,
        "roleSessionName": "js-app",
    }
    got = run_scenario("sdk-web-token.mjs", params)
    assert "ok" in got, got
    credentials = {
        "AccessKeyId": got["ok"]["accessKeyId"],
        "SecretAccessKey": got["ok"]["secretAccessKey"],
        "SessionToken": got["ok"]["sessionToken"],
    }
    assert caller_of(sts_server, credentials)["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Cognito_StsGuest/js-app"
    )
    refused = run_scenario("sdk-web-token.mjs", {**params, "roleArn": USER_ROLE})
    assert refused["error"]["name"] == "AccessDenied"
    assert refused["error"]["status"] == 403


def test_a_cognito_request_with_a_form_content_type_stays_on_the_json_path(
    sts_server: LiveServer, world: dict[str, Any]
) -> None:
    """Only a POST without X-Amz-Target goes to STS; the target always wins."""
    answer = httpx.post(
        sts_server.url + "/",
        content=json.dumps({"IdentityPoolId": world["pool"]}),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-amz-target": "AWSCognitoIdentityService.GetId",
        },
    )
    assert answer.status_code == 200
    assert answer.json()["IdentityId"].startswith("us-east-1:")


def test_sts_requests_are_counted(sts_server: LiveServer, world: dict[str, Any]) -> None:
    _, token = guest_token(sts_server, world["pool"])
    assume(sts_server, token, GUEST_ROLE)
    error_of(lambda: assume(sts_server, token, USER_ROLE))
    text = httpx.get(sts_server.url + "/metrics").text
    assert 'idpool_requests_total{code="OK",operation="sts:AssumeRoleWithWebIdentity"}' in text
    assert (
        'idpool_requests_total{code="AccessDenied",operation="sts:AssumeRoleWithWebIdentity"}'
        in (text)
    )


def test_roles_of_the_pools_role_mappings_are_assumable_when_authenticated(
    sts_server: LiveServer, world: dict[str, Any]
) -> None:
    admin = world["admin"]
    pool = admin.create_identity_pool(
        IdentityPoolName="sts_mapped",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName="dev.mapped",
        SupportedLoginProviders={"graph.facebook.com": "app"},
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool,
        Roles={"unauthenticated": GUEST_ROLE, "authenticated": USER_ROLE},
        RoleMappings={
            "graph.facebook.com": {
                "Type": "Rules",
                "AmbiguousRoleResolution": "AuthenticatedRole",
                "RulesConfiguration": {
                    "Rules": [
                        {
                            "Claim": "sub",
                            "MatchType": "Equals",
                            "Value": "x",
                            "RoleARN": MAPPED_ROLE,
                        }
                    ]
                },
            }
        },
    )
    token = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool, Logins={"dev.mapped": "mapped-user"}
    )["Token"]
    answer = assume(sts_server, token, MAPPED_ROLE)
    assert answer["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Mapped/app-session"
    )
    # A guest of the same pool (GetOpenIdToken refuses pools with role mappings, so the token is
    # signed here with idpool's own key, as the service would) gets none of the mapped roles.
    guest = make_client(sts_server.url, signed=False).get_id(IdentityPoolId=pool)["IdentityId"]
    runtime = sts_server.application.runtime
    assert runtime is not None
    key = runtime.keyring.active
    now = int(time.time())
    claims = {
        "sub": guest,
        "aud": pool,
        "amr": ["unauthenticated"],
        "iss": sts_server.url,
        "exp": now + 600,
        "iat": now,
    }
    guest_token = sign_compact(key.private_key, key.kid, claims)
    assert assume(sts_server, guest_token, GUEST_ROLE)["SubjectFromWebIdentityToken"] == guest
    assert error_of(lambda: assume(sts_server, guest_token, MAPPED_ROLE))[0] == "AccessDenied"
    admin.delete_identity_pool(IdentityPoolId=pool)
