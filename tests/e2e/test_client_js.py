"""The AWS SDK for JavaScript v3 against a live idpool, run by node.

The scenarios live in tests/clients/*.mjs and print JSON; these tests set up pools with boto3,
run a scenario and assert on what the SDK saw. The SDK is configured the way an app configures
it for AWS, with only `endpoint` changed: no workaround for idpool on the client side.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, make_client
from tests.e2e.test_tokens_and_credentials import claims_of
from tests.support import live as live_support
from tests.support.node import require_node, run_scenario

# The clients see the same wire on every store; one backend keeps the suite short.
pytestmark = [
    pytest.mark.node,
    pytest.mark.parametrize("backend", BACKENDS[:1], indirect=True),
]

AUTH = "arn:aws:iam::123456789012:role/js-auth"
UNAUTH = "arn:aws:iam::123456789012:role/js-unauth"
FB = "graph.facebook.com"
DEV = "login.idpool.js"
OWN = "cognito-identity.amazonaws.com"
IDENTITY_ID = re.compile(r"us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MISSING_POOL = "us-east-1:00000000-0000-4000-8000-000000000000"
MISSING_IDENTITY = "us-east-1:00000000-0000-4000-8000-00000000dead"


@pytest.fixture(scope="module", autouse=True)
def _node() -> None:
    require_node()


@pytest.fixture(scope="module")
def pools(cognito: Any) -> Iterator[dict[str, str]]:
    """A guest-friendly pool with roles and providers, and one that refuses guests."""
    made: list[str] = []

    def create(**params: Any) -> str:
        pool_id = str(
            cognito.create_identity_pool(IdentityPoolName="js_sdk", **params)["IdentityPoolId"]
        )
        made.append(pool_id)
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id, Roles={"authenticated": AUTH, "unauthenticated": UNAUTH}
        )
        return pool_id

    yield {
        "open": create(
            AllowUnauthenticatedIdentities=True,
            SupportedLoginProviders={FB: "js-app"},
            DeveloperProviderName=DEV,
        ),
        "closed": create(AllowUnauthenticatedIdentities=False),
    }
    for pool_id in made:
        cognito.delete_identity_pool(IdentityPoolId=pool_id)


def base(server: Any, pool_id: str, **extra: Any) -> dict[str, Any]:
    return {"endpoint": server.url, "region": "us-east-1", "identityPoolId": pool_id, **extra}


def assert_fresh_credentials(creds: dict[str, Any], identity_id: str) -> None:
    assert creds["identityId"] == identity_id
    assert creds["accessKeyId"].startswith("ASIA")
    assert creds["hasSecretAccessKey"] and creds["hasSessionToken"]
    assert creds["expirationIsDate"] is True
    expires = datetime.fromisoformat(creds["expiration"].replace("Z", "+00:00")).timestamp()
    assert 0 < expires - time.time() <= 3600 + 5


def test_guest_from_identity_pool(server: Any, cognito: Any, pools: dict[str, str]) -> None:
    out = run_scenario("sdk-provider.mjs", base(server, pools["open"]))
    identity_id = out["first"]["identityId"]
    assert IDENTITY_ID.fullmatch(identity_id)
    assert_fresh_credentials(out["first"], identity_id)
    assert_fresh_credentials(out["second"], identity_id)
    key = f"aws:cognito-identity-credentials:{pools['open']}:ANONYMOUS"
    assert out["cache"] == {key: identity_id}
    described = cognito.describe_identity(IdentityId=identity_id)
    assert described.get("Logins", []) == []


def test_developer_authenticated_user(server: Any, cognito: Any, pools: dict[str, str]) -> None:
    """The backend gets a token for its user; the app trades it for credentials.

    AWS's documented client side is `fromCognitoIdentity` with the identity id and the token
    under `cognito-identity.amazonaws.com`: GetCredentialsForIdentity accepts that login key,
    GetId does not.
    """
    user = f"dev-{uuid.uuid4().hex[:8]}"
    issued = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pools["open"], Logins={DEV: user}
    )
    identity_id = issued["IdentityId"]
    params = base(server, pools["open"], logins={OWN: issued["Token"]}, identityId=identity_id)
    out = run_scenario("sdk-provider.mjs", params)
    assert_fresh_credentials(out["first"], identity_id)
    assert_fresh_credentials(out["second"], identity_id)
    described = cognito.describe_identity(IdentityId=identity_id)
    assert described["Logins"] == [DEV]


def test_developer_token_is_not_a_get_id_login(
    server: Any, cognito: Any, pools: dict[str, str]
) -> None:
    """`fromCognitoIdentityPool` sends the Cognito token to GetId, which refuses it, as AWS does
    (aws/aws-sdk-net#420, soto-project/soto#452); the app sees the error, nothing is cached."""
    issued = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pools["open"], Logins={DEV: f"dev-{uuid.uuid4().hex[:8]}"}
    )
    out = run_scenario(
        "sdk-provider.mjs", base(server, pools["open"], logins={OWN: issued["Token"]})
    )
    assert out["first"]["error"]["name"] == "NotAuthorizedException"
    assert out["first"]["error"]["status"] == 400
    assert out["second"] is None
    assert out["cache"] == {}


ISSUER_HOST = "idp.js.test"
OIDC_ARN = f"arn:aws:iam::000000000000:oidc-provider/{ISSUER_HOST}"
OIDC_CLIENT = "js-client"


@dataclass(frozen=True)
class OidcSetup:
    url: str
    pool_id: str
    idp: Any


@pytest.fixture(scope="module")
def oidc(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcSetup]:
    """A second idpool on the same store with trust mode OFF, trusting the test IdP's keys.

    The session server accepts any token (trust mode), which would make this flow prove
    nothing about signatures; this one verifies them like production.
    """
    idp_module = pytest.importorskip("tests.support.idp", reason="tests/support/idp.py missing")
    idp = idp_module.LocalIdentityProvider(issuer=f"https://{ISSUER_HOST}")
    providers = tmp_path_factory.mktemp("oidc") / "providers.yaml"
    providers.write_text(
        "issuers:\n"
        f"  https://{ISSUER_HOST}:\n"
        f"    jwks_url: {idp.jwks_url}\n"
        "oidc_providers:\n"
        f"  {OIDC_ARN}:\n"
        f"    client_ids: [{OIDC_CLIENT}]\n"
    )
    settings = live_support.settings_for_tests(
        database_url, trust_mode=False, providers_file=str(providers)
    )
    try:
        with live_support.live_server(settings) as live:
            admin = make_client(live.url)
            pool_id = admin.create_identity_pool(
                IdentityPoolName="js_oidc",
                AllowUnauthenticatedIdentities=False,
                OpenIdConnectProviderARNs=[OIDC_ARN],
            )["IdentityPoolId"]
            admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": AUTH})
            yield OidcSetup(live.url, pool_id, idp)
            admin.delete_identity_pool(IdentityPoolId=pool_id)
    finally:
        idp.close()


def test_oidc_user_from_identity_pool(oidc: OidcSetup, cognito: Any) -> None:
    """An app signs a user in at an OIDC IdP and hands the ID token to the SDK."""
    idp = oidc.idp
    token = idp.token(idp.claims(aud=OIDC_CLIENT, sub=f"user-{uuid.uuid4().hex[:8]}"))
    params = {
        "endpoint": oidc.url,
        "region": "us-east-1",
        "identityPoolId": oidc.pool_id,
        "logins": {ISSUER_HOST: token},
    }
    out = run_scenario("sdk-provider.mjs", params)
    identity_id = out["first"]["identityId"]
    assert IDENTITY_ID.fullmatch(identity_id)
    assert_fresh_credentials(out["first"], identity_id)
    assert_fresh_credentials(out["second"], identity_id)
    assert out["cache"] == {}  # authenticated ids are found again through the login
    assert cognito.describe_identity(IdentityId=identity_id)["Logins"] == [ISSUER_HOST]

    forged = idp.tampered(token, sub="someone-else")
    refused = run_scenario("sdk-provider.mjs", {**params, "logins": {ISSUER_HOST: forged}})
    assert refused["first"]["error"]["name"] == "NotAuthorizedException"


def test_cached_identity_recovers_after_deletion(server: Any, pools: dict[str, str]) -> None:
    out = run_scenario("sdk-cache-recovery.mjs", base(server, pools["open"]))
    first = out["first"]["identityId"]
    key = f"aws:cognito-identity-credentials:{pools['open']}:ANONYMOUS"
    assert out["cachedAfterFirst"] == {key: first}
    assert out["reloaded"]["identityId"] == first  # a new provider reuses the cached id
    assert out["unprocessed"] == []
    assert out["stale"]["error"]["name"] == "ResourceNotFoundException"
    assert out["stale"]["error"]["message"] == f"Identity '{first}' not found."
    assert out["cachedAfterError"] == {}
    recovered = out["recovered"]["identityId"]
    assert IDENTITY_ID.fullmatch(recovered) and recovered != first
    assert_fresh_credentials(out["recovered"], recovered)
    assert out["cachedAfterRecovery"] == {key: recovered}


@pytest.fixture(scope="module")
def operations(server: Any, pools: dict[str, str]) -> dict[str, Any]:
    """One run of the low-level scenario, shared by the assertions below (node start-up costs)."""
    return dict(
        run_scenario(
            "sdk-operations.mjs",
            base(
                server,
                pools["open"],
                noGuestPoolId=pools["closed"],
                missingPoolId=MISSING_POOL,
                missingIdentityId=MISSING_IDENTITY,
                providerName=FB,
                providerToken=f"fb-{uuid.uuid4().hex[:8]}",
            ),
        )
    )


def test_low_level_public_operations(
    operations: dict[str, Any], cognito: Any, pools: dict[str, str]
) -> None:
    identity_id = operations["getId"]["identityId"]
    assert IDENTITY_ID.fullmatch(identity_id)
    assert operations["getId"]["status"] == 200
    assert operations["getOpenIdToken"]["identityId"] == identity_id
    claims = claims_of(operations["getOpenIdToken"]["token"])
    assert claims["sub"] == identity_id
    assert claims["aud"] == pools["open"]
    assert claims["amr"] == ["unauthenticated"]
    assert_fresh_credentials(operations["getCredentialsForIdentity"], identity_id)
    assert operations["linked"]["identityId"] == identity_id
    assert operations["unlinkIdentity"]["status"] == 200
    assert cognito.describe_identity(IdentityId=identity_id).get("Logins", []) == []
    assert operations["describeIdentityPool"] == {
        "identityPoolId": pools["open"],
        "allowUnauthenticatedIdentities": True,
    }


def test_error_classes(operations: dict[str, Any], pools: dict[str, str]) -> None:
    errors = {name: outcome["error"] for name, outcome in operations["errors"].items()}
    for error in errors.values():
        assert error["status"] == 400
        assert error["fault"] == "client"
        assert error["instanceofCognitoIdentityServiceException"] is True
        assert error["requestId"]
    assert errors["missingPool"]["name"] == "ResourceNotFoundException"
    assert errors["missingPool"]["instanceofResourceNotFoundException"] is True
    assert errors["missingPool"]["message"] == f"IdentityPool '{MISSING_POOL}' not found."
    assert errors["guestsNotAllowed"]["name"] == "NotAuthorizedException"
    assert errors["guestsNotAllowed"]["instanceofNotAuthorizedException"] is True
    assert errors["guestsNotAllowed"]["message"] == (
        "Unauthenticated access is not supported for this identity pool."
    )
    assert errors["missingIdentity"]["name"] == "ResourceNotFoundException"
    assert errors["missingIdentity"]["message"] == f"Identity '{MISSING_IDENTITY}' not found."
    assert errors["unsupportedLogin"]["name"] == "NotAuthorizedException"
    assert errors["unsupportedLogin"]["instanceofNotAuthorizedException"] is True
    # Not in the service model: the SDK still names it, with its base class.
    assert errors["malformedPoolId"]["name"] == "ValidationException"
    assert errors["malformedPoolId"]["constructor"] == "CognitoIdentityServiceException"
    assert "identityPoolId" in errors["malformedPoolId"]["message"]


def browser_headers(sent: list[dict[str, Any]], target: str) -> list[str]:
    """Headers of one SDK request that a browser would list in Access-Control-Request-Headers."""
    implicit = {"host", "content-length", "user-agent", "connection", "accept-encoding"}
    request = next(r for r in sent if r["target"] == f"AWSCognitoIdentityService.{target}")
    return [name for name in request["headers"] if name not in implicit]


@pytest.mark.parametrize("target", ["GetId", "DescribeIdentityPool"])
def test_browser_preflight_with_sdk_headers(
    server: Any, operations: dict[str, Any], target: str
) -> None:
    """What a browser asks before the SDK's POST, for an unsigned and a signed call."""
    requested = browser_headers(operations["sentHeaders"], target)
    assert {"content-type", "x-amz-target", "x-amz-user-agent", "amz-sdk-invocation-id"} <= set(
        requested
    )
    if target == "DescribeIdentityPool":
        assert {"authorization", "x-amz-date"} <= set(requested)
    origin = "http://app.example.test"
    answer = httpx.options(
        server.url + "/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",".join(requested),
        },
    )
    assert answer.status_code in (200, 204)
    assert answer.headers["access-control-allow-origin"] in ("*", origin)
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"*"} or set(requested) <= allowed

    post = httpx.post(
        server.url + "/",
        headers={
            "Origin": origin,
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "AWSCognitoIdentityService.GetId",
        },
        content=b'{"IdentityPoolId": "' + MISSING_POOL.encode() + b'"}',
    )
    assert post.headers["access-control-allow-origin"] in ("*", origin)
    exposed = {h.strip().lower() for h in post.headers["access-control-expose-headers"].split(",")}
    assert {"x-amzn-requestid", "x-amzn-errortype"} <= exposed
