"""The AWS CLI (`aws cognito-identity ...`) against a live idpool, run as a subprocess.

The CLI gets a clean environment (dummy keys, a region, no config files), exactly what the
docs/clients/aws-cli.md page tells users to set. Each invocation costs about half a second, so
one test walks a whole pool's life cycle instead of one invocation per test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.e2e.test_tokens_and_credentials import claims_of

# The CLI sees the same wire on every store; one backend keeps the suite short.
pytestmark = pytest.mark.parametrize("backend", BACKENDS[:1], indirect=True)

AWS = Path(sys.executable).with_name("aws")
AUTH = "arn:aws:iam::123456789012:role/cli-auth"
UNAUTH = "arn:aws:iam::123456789012:role/cli-unauth"
DEV = "login.idpool.cli"


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """No profile, config file or AWS variable of the machine reaches the CLI."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ACCESS_KEY_ID": "AKIAIDPOOLTEST000001",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        **extra,
    }


@pytest.fixture
def aws(server: Any, tmp_path: Path) -> Any:
    """Run `aws cognito-identity <args>`; `via` picks how the CLI learns the endpoint."""
    if not AWS.exists():
        pytest.skip(f"the AWS CLI is not installed next to {sys.executable}")

    def run(*args: str, via: str = "flag") -> Result:
        extra: dict[str, str] = {}
        command = [str(AWS), "cognito-identity", *args, "--output", "json"]
        if via == "flag":
            command += ["--endpoint-url", server.url]
        else:
            extra["AWS_ENDPOINT_URL_COGNITO_IDENTITY"] = server.url
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=clean_env(tmp_path, **extra),
            timeout=30,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


def cli_error(operation: str, code: str, message: str) -> str:
    """The CLI's own wording for a service error (botocore ClientError), as AWS users see it."""
    return f"An error occurred ({code}) when calling the {operation} operation: {message}"


def test_pool_life_cycle(aws: Any, cognito: Any) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    created = aws(
        "create-identity-pool",
        "--identity-pool-name",
        name,
        "--allow-unauthenticated-identities",
        "--developer-provider-name",
        DEV,
        "--supported-login-providers",
        "graph.facebook.com=cli-app",
    )
    assert created.code == 0, created.stderr
    pool = created.json
    pool_id = pool["IdentityPoolId"]
    try:
        assert pool == {
            "IdentityPoolId": pool_id,
            "IdentityPoolName": name,
            "AllowUnauthenticatedIdentities": True,
            "SupportedLoginProviders": {"graph.facebook.com": "cli-app"},
            "DeveloperProviderName": DEV,
            "IdentityPoolTags": {},
        }

        described = aws("describe-identity-pool", "--identity-pool-id", pool_id, via="env")
        assert described.code == 0, described.stderr
        assert described.json == pool

        updated = aws(
            "update-identity-pool",
            "--identity-pool-id",
            pool_id,
            "--identity-pool-name",
            name + "_v2",
            "--no-allow-unauthenticated-identities",
            "--developer-provider-name",
            DEV,
        )
        assert updated.code == 0, updated.stderr
        assert updated.json["IdentityPoolName"] == name + "_v2"
        assert updated.json["AllowUnauthenticatedIdentities"] is False
        assert "SupportedLoginProviders" not in updated.json
        assert cognito.describe_identity_pool(IdentityPoolId=pool_id)["IdentityPoolName"] == (
            name + "_v2"
        )

        deleted = aws("delete-identity-pool", "--identity-pool-id", pool_id, via="env")
        assert (deleted.code, deleted.stdout) == (0, "")
    finally:
        try:
            cognito.delete_identity_pool(IdentityPoolId=pool_id)
        except cognito.exceptions.ResourceNotFoundException:
            pass

    gone = aws("describe-identity-pool", "--identity-pool-id", pool_id)
    assert gone.code == 255
    assert gone.stdout == ""
    assert gone.stderr.strip() == cli_error(
        "DescribeIdentityPool", "ResourceNotFoundException", f"IdentityPool '{pool_id}' not found."
    )


def test_list_paging(aws: Any, pool_factory: Any) -> None:
    """Manual paging with --max-results/--next-token (other tests' pools may be listed too)."""
    mine = {pool_factory(IdentityPoolName=f"cli_page_{i}")["IdentityPoolId"] for i in range(3)}

    first = aws("list-identity-pools", "--max-results", "1")
    assert first.code == 0, first.stderr
    assert len(first.json["IdentityPools"]) == 1
    token = first.json["NextToken"]
    second = aws("list-identity-pools", "--max-results", "1", "--next-token", token, via="env")
    assert second.code == 0, second.stderr
    assert len(second.json["IdentityPools"]) == 1
    assert second.json["IdentityPools"] != first.json["IdentityPools"]

    # awscli v1 requires --max-results here, which turns its own auto-paging off.
    walked = aws(
        "list-identity-pools", "--max-results", "60", "--query", "IdentityPools[].IdentityPoolId"
    )
    assert walked.code == 0, walked.stderr
    listed = walked.json
    assert mine <= set(listed)
    assert len(listed) == len(set(listed))
    assert first.json["IdentityPools"][0]["IdentityPoolId"] in listed


def test_identity_roles_tokens_and_credentials(aws: Any, pool_factory: Any) -> None:
    pool_id = pool_factory(DeveloperProviderName=DEV)["IdentityPoolId"]

    roles = aws(
        "set-identity-pool-roles",
        "--identity-pool-id",
        pool_id,
        "--roles",
        f"authenticated={AUTH},unauthenticated={UNAUTH}",
    )
    assert (roles.code, roles.stdout) == (0, ""), roles.stderr
    got = aws("get-identity-pool-roles", "--identity-pool-id", pool_id, via="env")
    assert got.code == 0, got.stderr
    assert got.json == {
        "IdentityPoolId": pool_id,
        "Roles": {"authenticated": AUTH, "unauthenticated": UNAUTH},
    }

    guest = aws("get-id", "--identity-pool-id", pool_id, "--no-sign-request")
    assert guest.code == 0, guest.stderr
    identity_id = guest.json["IdentityId"]

    creds = aws(
        "get-credentials-for-identity", "--identity-id", identity_id, "--no-sign-request", via="env"
    )
    assert creds.code == 0, creds.stderr
    assert creds.json["IdentityId"] == identity_id
    assert creds.json["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert {"SecretKey", "SessionToken"} <= set(creds.json["Credentials"])
    assert isinstance(creds.json["Credentials"]["Expiration"], float | int)  # v1 prints epoch

    token = aws("get-open-id-token", "--identity-id", identity_id, "--no-sign-request")
    assert token.code == 0, token.stderr
    assert claims_of(token.json["Token"])["sub"] == identity_id

    user = f"cli-{uuid.uuid4().hex[:8]}"
    developer = aws(
        "get-open-id-token-for-developer-identity",
        "--identity-pool-id",
        pool_id,
        "--logins",
        f"{DEV}={user}",
        "--token-duration",
        "900",
    )
    assert developer.code == 0, developer.stderr
    claims = claims_of(developer.json["Token"])
    assert claims["sub"] == developer.json["IdentityId"] != identity_id
    assert claims["exp"] - claims["iat"] == 900


def test_errors_as_the_cli_prints_them(aws: Any, pool_factory: Any) -> None:
    closed = pool_factory(AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
    refused = aws("get-id", "--identity-pool-id", closed, "--no-sign-request", via="env")
    assert refused.code == 255
    assert refused.stderr.strip() == cli_error(
        "GetId",
        "NotAuthorizedException",
        "Unauthenticated access is not supported for this identity pool.",
    )

    malformed = aws("describe-identity-pool", "--identity-pool-id", "no-colon")
    assert malformed.code == 255
    assert malformed.stderr.strip().startswith(
        "An error occurred (ValidationException) when calling the DescribeIdentityPool operation: "
        "1 validation error detected: Value 'no-colon' at 'identityPoolId' failed to satisfy"
    )
