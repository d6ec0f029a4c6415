"""Security checks in one place: account isolation without an existence oracle, identities that a
bare id cannot open, and logs that never hold a token or a secret.

Token forgery (bad signatures, wrong iss/aud, expiry, alg=none outside trust mode) and SigV4
attacks (strict-mode signatures, replay windows, scope mismatches) are tested where those
features live; docs/reliability.md lists them next to these.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.reliability.conftest import DEV, FB, GOOGLE
from tests.reliability.support import ServerProcess, aws_error, call, ok, social_pool

if TYPE_CHECKING:
    pass

OWNER = "999900000030"
STRANGER = "999900000031"
ROLE = "arn:aws:iam::123456789012:role/reliability"
FORBIDDEN = "Access to Identity '{}' is forbidden."
LOGINS_DONT_MATCH = (
    "Logins don't match. Please include at least one valid login for this identity or "
    "identity pool."
)


def unsigned_jwt(**claims: Any) -> str:
    """Accepted without a signature only because the test servers run in trust mode."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def random_identity() -> str:
    return f"us-east-1:{uuid.uuid4()}"


def error(response: httpx.Response) -> tuple[int, str, str]:
    code, message = aws_error(response)
    return response.status_code, code, message


@pytest.fixture(scope="module")
def world(http: httpx.Client) -> Iterator[dict[str, str]]:
    """OWNER's pool with a guest, a signed-in member and a developer user."""
    pool_id = social_pool(http, "victim", DEV, ROLE, access_key=OWNER)
    guest = ok(call(http, "GetId", {"IdentityPoolId": pool_id}))["IdentityId"]
    member = ok(call(http, "GetId", {"IdentityPoolId": pool_id, "Logins": {FB: "victim"}}))[
        "IdentityId"
    ]
    developer = ok(
        call(
            http,
            "GetOpenIdTokenForDeveloperIdentity",
            {"IdentityPoolId": pool_id, "Logins": {DEV: "victim-dev"}},
            access_key=OWNER,
        )
    )["IdentityId"]
    yield {"pool": pool_id, "guest": guest, "member": member, "developer": developer}
    call(http, "DeleteIdentityPool", {"IdentityPoolId": pool_id}, access_key=OWNER)


# --- account isolation: another account's resource looks exactly like a missing one ----------


def _as_stranger_and_missing(
    http: httpx.Client, operation: str, params: dict[str, Any], missing: dict[str, Any]
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    foreign = error(call(http, operation, params, access_key=STRANGER))
    absent = error(call(http, operation, missing, access_key=STRANGER))
    return foreign, absent


def test_describe_identity_of_another_account_is_not_found(
    http: httpx.Client, world: dict[str, str]
) -> None:
    for kind in ("guest", "member", "developer"):
        identity = world[kind]
        missing = random_identity()
        foreign, absent = _as_stranger_and_missing(
            http, "DescribeIdentity", {"IdentityId": identity}, {"IdentityId": missing}
        )
        assert foreign == (400, "ResourceNotFoundException", f"Identity '{identity}' not found.")
        assert absent == (400, "ResourceNotFoundException", f"Identity '{missing}' not found.")


@pytest.mark.parametrize(
    "operation",
    [
        "DescribeIdentityPool",
        "GetIdentityPoolRoles",
        "ListIdentities",
        "LookupDeveloperIdentity",
        "DeleteIdentityPool",
        "UpdateIdentityPool",
        "SetIdentityPoolRoles",
        "MergeDeveloperIdentities",
        "UnlinkDeveloperIdentity",
        "GetPrincipalTagAttributeMap",
        "SetPrincipalTagAttributeMap",
        "ListTagsForResource",
        "TagResource",
        "UntagResource",
        "GetOpenIdTokenForDeveloperIdentity",
    ],
)
def test_pool_of_another_account_is_indistinguishable_from_a_missing_one(
    http: httpx.Client, world: dict[str, str], operation: str
) -> None:
    missing_pool = f"us-east-1:{uuid.uuid4()}"

    def params(pool_id: str) -> dict[str, Any]:
        arn = f"arn:aws:cognito-identity:us-east-1:{OWNER}:identitypool/{pool_id}"
        table: dict[str, dict[str, Any]] = {
            "DescribeIdentityPool": {"IdentityPoolId": pool_id},
            "GetIdentityPoolRoles": {"IdentityPoolId": pool_id},
            "ListIdentities": {"IdentityPoolId": pool_id, "MaxResults": 10},
            "LookupDeveloperIdentity": {
                "IdentityPoolId": pool_id,
                "DeveloperUserIdentifier": "victim-dev",
            },
            "DeleteIdentityPool": {"IdentityPoolId": pool_id},
            "UpdateIdentityPool": {
                "IdentityPoolId": pool_id,
                "IdentityPoolName": "pwned",
                "AllowUnauthenticatedIdentities": True,
            },
            "SetIdentityPoolRoles": {"IdentityPoolId": pool_id, "Roles": {"authenticated": ROLE}},
            "MergeDeveloperIdentities": {
                "SourceUserIdentifier": "x",
                "DestinationUserIdentifier": "victim-dev",
                "DeveloperProviderName": DEV,
                "IdentityPoolId": pool_id,
            },
            "UnlinkDeveloperIdentity": {
                "IdentityId": world["developer"],
                "IdentityPoolId": pool_id,
                "DeveloperProviderName": DEV,
                "DeveloperUserIdentifier": "victim-dev",
            },
            "GetPrincipalTagAttributeMap": {
                "IdentityPoolId": pool_id,
                "IdentityProviderName": FB,
            },
            "SetPrincipalTagAttributeMap": {
                "IdentityPoolId": pool_id,
                "IdentityProviderName": FB,
                "UseDefaults": True,
            },
            "ListTagsForResource": {"ResourceArn": arn},
            "TagResource": {"ResourceArn": arn, "Tags": {"k": "v"}},
            "UntagResource": {"ResourceArn": arn, "TagKeys": ["k"]},
            "GetOpenIdTokenForDeveloperIdentity": {
                "IdentityPoolId": pool_id,
                "Logins": {DEV: "victim-dev"},
            },
        }
        return table[operation]

    foreign, absent = _as_stranger_and_missing(
        http, operation, params(world["pool"]), params(missing_pool)
    )
    assert foreign[:2] == absent[:2] == (400, "ResourceNotFoundException"), (foreign, absent)
    assert foreign[2].replace(world["pool"], "<pool>") == absent[2].replace(missing_pool, "<pool>")
    # And nothing changed for the owner.
    described = ok(
        call(http, "DescribeIdentityPool", {"IdentityPoolId": world["pool"]}, access_key=OWNER)
    )
    assert described["IdentityPoolName"] == "victim"
    assert described["IdentityPoolTags"] == {}


def test_delete_identities_of_another_account_deletes_nothing(
    http: httpx.Client, world: dict[str, str]
) -> None:
    answer = ok(
        call(
            http,
            "DeleteIdentities",
            {"IdentityIdsToDelete": [world["member"]]},
            access_key=STRANGER,
        )
    )
    assert answer["UnprocessedIdentityIds"] == [
        {"IdentityId": world["member"], "ErrorCode": "AccessDenied"}
    ]
    still = call(http, "DescribeIdentity", {"IdentityId": world["member"]}, access_key=OWNER)
    assert ok(still)["IdentityId"] == world["member"]


# --- a bare identity id opens nothing that is signed in ---------------------------------------


@pytest.mark.parametrize("operation", ["GetCredentialsForIdentity", "GetOpenIdToken"])
def test_authenticated_identity_without_its_logins_is_forbidden(
    http: httpx.Client, world: dict[str, str], operation: str
) -> None:
    for kind in ("member", "developer"):
        identity = world[kind]
        for params in ({"IdentityId": identity}, {"IdentityId": identity, "Logins": {}}):
            assert error(call(http, operation, params)) == (
                400,
                "NotAuthorizedException",
                FORBIDDEN.format(identity),
            )


@pytest.mark.parametrize(
    "operation", ["GetCredentialsForIdentity", "GetOpenIdToken", "UnlinkIdentity"]
)
def test_someone_elses_login_does_not_open_or_join_an_identity(
    http: httpx.Client, world: dict[str, str], operation: str
) -> None:
    attacker = {GOOGLE: f"attacker-{uuid.uuid4().hex}"}
    params: dict[str, Any] = {"IdentityId": world["member"], "Logins": attacker}
    if operation == "UnlinkIdentity":
        params["LoginsToRemove"] = [FB]
    assert error(call(http, operation, params)) == (
        400,
        "NotAuthorizedException",
        LOGINS_DONT_MATCH,
    )
    described = ok(
        call(http, "DescribeIdentity", {"IdentityId": world["member"]}, access_key=OWNER)
    )
    assert described["Logins"] == [FB]


@pytest.mark.parametrize("operation", ["GetCredentialsForIdentity", "GetOpenIdToken"])
def test_guessed_identity_id_is_not_found(http: httpx.Client, operation: str) -> None:
    guess = random_identity()
    assert error(call(http, operation, {"IdentityId": guess})) == (
        400,
        "ResourceNotFoundException",
        f"Identity '{guess}' not found.",
    )


def test_the_guest_still_works(http: httpx.Client, world: dict[str, str]) -> None:
    """The control case: the checks above refuse for the right reason, not for every call."""
    answer = ok(call(http, "GetCredentialsForIdentity", {"IdentityId": world["guest"]}))
    assert answer["IdentityId"] == world["guest"]
    member = ok(
        call(
            http,
            "GetCredentialsForIdentity",
            {"IdentityId": world["member"], "Logins": {FB: "victim"}},
        )
    )
    assert member["IdentityId"] == world["member"]


# --- no tokens or secrets in logs -------------------------------------------------------------


def test_debug_logs_hold_no_tokens_or_secrets(tmp_path: Path) -> None:
    """One run on SQLite: what is logged does not depend on the store."""
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'logs.sqlite3'}", tmp_path, log_level="debug"
    ).start()
    secrets: list[str] = []
    try:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            secrets += exercise_every_secret_path(client)
        log = server.log()
    finally:
        server.stop()
    # The log is not vacuously clean: every call above has its request line.
    for operation in (
        "GetId",
        "GetOpenIdToken",
        "GetCredentialsForIdentity",
        "DescribeIdentityPool",
    ):
        assert f'"operation":"{operation}"' in log, log[-2000:]
    leaked = [s for s in secrets if s and s in log]
    assert not leaked, [s[:60] for s in leaked]


def _token_parts(token: str) -> list[str]:
    """A JWT leaks if any of its parts does: look for each non-trivial part separately."""
    return [token, *(p for p in token.split(".") if len(p) > 24)]


def exercise_every_secret_path(client: httpx.Client) -> list[str]:
    """Send and receive every kind of secret once; return them for the log grep."""
    from tests.reliability.support import KEY_SECRET, api_headers

    nonce = uuid.uuid4().hex
    secrets = [KEY_SECRET, "dummy-secret"]
    pool_id = social_pool(client, "logs", DEV, ROLE, access_key=OWNER)
    google_token = unsigned_jwt(
        iss="https://accounts.google.com",
        aud="client",
        sub=f"g-{nonce}",
        secret_claim=f"sc-{nonce}",
    )
    secrets += _token_parts(google_token)
    identity = ok(
        call(client, "GetId", {"IdentityPoolId": pool_id, "Logins": {GOOGLE: google_token}})
    )["IdentityId"]
    opened = ok(
        call(client, "GetOpenIdToken", {"IdentityId": identity, "Logins": {GOOGLE: google_token}})
    )
    secrets += _token_parts(opened["Token"])
    credentials = ok(
        call(
            client,
            "GetCredentialsForIdentity",
            {"IdentityId": identity, "Logins": {GOOGLE: google_token}},
        )
    )["Credentials"]
    secrets += [credentials["SecretKey"], credentials["SessionToken"]]
    developer = ok(
        call(
            client,
            "GetOpenIdTokenForDeveloperIdentity",
            {"IdentityPoolId": pool_id, "Logins": {DEV: f"dev-{nonce}"}},
            access_key=OWNER,
        )
    )
    secrets += _token_parts(developer["Token"])
    own = ok(
        call(
            client,
            "GetCredentialsForIdentity",
            {
                "IdentityId": developer["IdentityId"],
                "Logins": {"cognito-identity.amazonaws.com": developer["Token"]},
            },
        )
    )["Credentials"]
    secrets += [own["SecretKey"], own["SessionToken"]]
    # Refused and invalid tokens must not be echoed either: not in the log, not in the answer.
    for bad in (
        "x" * 60_000,  # longer than the model allows
        unsigned_jwt(iss="https://evil.example", aud="client", sub=f"evil-{nonce}") + f"{nonce}",
        f"eyJub3QiOiJqc29uIn0.{nonce}garbage.{nonce}sig",
    ):
        answer = call(client, "GetId", {"IdentityPoolId": pool_id, "Logins": {GOOGLE: bad}})
        assert bad not in answer.text and (len(bad) < 80 or bad[:80] not in answer.text)
        secrets += _token_parts(bad)
    # The signature of a signed call is a credential too.
    body = json.dumps({"IdentityPoolId": pool_id}).encode()
    headers = api_headers(str(client.base_url), "DescribeIdentityPool", body, access_key=OWNER)
    assert client.post("/", content=body, headers=headers).status_code == 200
    found = re.search(r"Signature=([0-9a-f]{64})", headers["authorization"])
    assert found
    secrets.append(found.group(1))
    return secrets
