"""Amplify JS v6 (`aws-amplify`) against a live idpool, run by node.

Amplify is configured with `Auth.Cognito.identityPoolId` and its documented
`identityPoolEndpoint` override, nothing else: no client-side workaround for idpool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.support.node import require_node, run_scenario

pytestmark = [
    pytest.mark.node,
    pytest.mark.parametrize("backend", BACKENDS[:1], indirect=True),
]

MISSING_POOL = "us-east-1:00000000-0000-4000-8000-0000000000a6"
GET_ID = "AWSCognitoIdentityService.GetId"
GET_CREDENTIALS = "AWSCognitoIdentityService.GetCredentialsForIdentity"


@pytest.fixture(scope="module")
def amplify(server: Any, cognito: Any) -> Iterator[dict[str, Any]]:
    """One run of the guest scenario (node and Amplify start-up cost most of a second)."""
    require_node()
    made: list[str] = []
    for allow in (True, False):
        pool_id = cognito.create_identity_pool(
            IdentityPoolName="amplify", AllowUnauthenticatedIdentities=allow
        )["IdentityPoolId"]
        made.append(pool_id)
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={
                "authenticated": "arn:aws:iam::123456789012:role/amplify-auth",
                "unauthenticated": "arn:aws:iam::123456789012:role/amplify-unauth",
            },
        )
    out = run_scenario(
        "amplify-guest.mjs",
        {
            "endpoint": server.url,
            "identityPoolId": made[0],
            "noGuestPoolId": made[1],
            "missingPoolId": MISSING_POOL,
        },
    )
    yield {"out": out, "pool": made[0]}
    for pool_id in made:
        cognito.delete_identity_pool(IdentityPoolId=pool_id)


def test_guest_session_has_credentials(amplify: dict[str, Any], cognito: Any) -> None:
    first = amplify["out"]["first"]
    identity_id = first["identityId"]
    assert identity_id.startswith("us-east-1:")
    assert first["tokens"] is None
    creds = first["credentials"]
    assert creds["accessKeyId"].startswith("ASIA")
    assert creds["hasSecretAccessKey"] and creds["hasSessionToken"]
    assert creds["expirationIsDate"] is True
    expires = datetime.fromisoformat(creds["expiration"].replace("Z", "+00:00")).timestamp()
    assert 0 < expires - time.time() <= 3600 + 5
    identity = cognito.describe_identity(IdentityId=identity_id)
    assert identity["IdentityId"] == identity_id
    assert identity.get("Logins", []) == []


def test_identity_reused_on_refresh(amplify: dict[str, Any], server: Any) -> None:
    out = amplify["out"]
    identity_id = out["first"]["identityId"]
    assert out["again"] == out["first"]  # served from Amplify's cache, no call
    assert out["refreshed"]["identityId"] == identity_id
    assert out["refreshed"]["credentials"]["identityId"] == identity_id
    assert [call["target"] for call in out["calls"]] == [GET_ID, GET_CREDENTIALS, GET_CREDENTIALS]
    assert {call["url"] for call in out["calls"]} == {server.url + "/"}


def test_errors_surface_to_the_app(amplify: dict[str, Any]) -> None:
    errors = amplify["out"]["errors"]
    refused = errors["guestsNotAllowed"]["error"]
    assert refused["name"] == "NotAuthorizedException"
    assert refused["message"] == "Unauthenticated access is not supported for this identity pool."
    missing = errors["missingPool"]["error"]
    assert missing["name"] == "ResourceNotFoundException"
    assert missing["message"] == f"IdentityPool '{MISSING_POOL}' not found."
    assert [call["target"] for call in amplify["out"]["errorCalls"]] == [GET_ID, GET_ID]


def test_amplify_requests_pass_cors(amplify: dict[str, Any], server: Any) -> None:
    """Amplify adds cache-control to its requests; a browser would preflight all of these."""
    sent = set()
    for call in amplify["out"]["calls"]:
        sent |= set(call["headers"])
    assert {"x-amz-target", "x-amz-user-agent", "cache-control"} <= sent
    answer = httpx.options(
        server.url + "/",
        headers={
            "Origin": "http://amplify.example.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(sorted(sent)),
        },
    )
    assert answer.status_code in (200, 204)
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"*"} or sent <= allowed
