"""A user signed in to a Cognito user pool, exchanging the ID token at idpool, for real.

The user pool is moto's cognito-idp server (a real HTTP server on a free loopback port); idpool
is given nothing but `user_pool_endpoint` to verify its tokens — no providers file, no entry per
pool — so a pool created after idpool started works too. Amplify JS v6 signs in
(USER_PASSWORD_AUTH) and calls fetchAuthSession. The same moto server also plays STS
(`credential_mode=sts`) only so the tests can ask STS which role each login was given.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.e2e.test_pools import error_of
from tests.support.live import LiveServer, live_server, settings_for_tests
from tests.support.node import require_node, run_scenario
from tests.support.sts import moto_sts

REGION = "us-east-1"
AUTH = "arn:aws:iam::123456789012:role/signed-in"
ADMIN = "arn:aws:iam::123456789012:role/pool-admin"
PASSWORD = "Correct-horse-9!"


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str
    other_client_id: str

    @property
    def key(self) -> str:
        return f"cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"


def aws_client(service: str, url: str, **kw: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=kw.pop("key", "AKIAMOTOTEST00000001"),
        aws_secret_access_key=kw.pop("secret", "moto"),
        **kw,
    )


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_sts() as url:
        yield url


def make_user_pool(moto_url: str, name: str) -> UserPool:
    idp = aws_client("cognito-idp", moto_url)
    pool_id = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
    flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    clients = [
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName=n, ExplicitAuthFlows=flows)[
            "UserPoolClient"
        ]["ClientId"]
        for n in ("web", "other-app")
    ]
    idp.create_group(UserPoolId=pool_id, GroupName="admins")
    for user, groups in (("alice", ["admins"]), ("bob", [])):
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=user,
            TemporaryPassword="Temp-pass-1!",
            MessageAction="SUPPRESS",
        )
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username=user, Password=PASSWORD, Permanent=True
        )
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName=group)
    return UserPool(pool_id, clients[0], clients[1])


def sign_in(moto_url: str, pool: UserPool, user: str, client_id: str | None = None) -> Any:
    idp = aws_client("cognito-idp", moto_url)
    return idp.initiate_auth(
        ClientId=client_id or pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


@pytest.fixture(scope="module")
def user_pool(moto_url: str) -> UserPool:
    return make_user_pool(moto_url, "app-users")


@pytest.fixture(scope="module")
def idpool(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("userpool") / "idpool.sqlite3"
    settings = settings_for_tests(
        f"sqlite:///{db}",
        trust_mode=False,  # real signature checks against moto's JWKS
        user_pool_endpoint=moto_url,
        credential_mode="sts",
        sts_endpoint=moto_url,
    )
    with live_server(settings) as live:
        yield live


def identity_pool_for(idpool: LiveServer, pool: UserPool) -> str:
    admin: Any = make_client(idpool.url)
    pool_id = admin.create_identity_pool(
        IdentityPoolName="signed-in",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": pool.key, "ClientId": pool.client_id}],
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={"authenticated": AUTH},
        RoleMappings={
            f"{pool.key}:{pool.client_id}": {
                "Type": "Rules",
                "AmbiguousRoleResolution": "AuthenticatedRole",
                "RulesConfiguration": {
                    "Rules": [
                        {
                            "Claim": "cognito:groups",
                            "MatchType": "Contains",
                            "Value": "admins",
                            "RoleARN": ADMIN,
                        }
                    ]
                },
            }
        },
    )
    return str(pool_id)


@pytest.fixture(scope="module")
def identity_pool(idpool: LiveServer, user_pool: UserPool) -> str:
    return identity_pool_for(idpool, user_pool)


def role_of(moto_url: str, creds: dict[str, str]) -> str:
    """The role STS says these credentials were issued for."""
    sts = aws_client(
        "sts",
        moto_url,
        key=creds["accessKeyId"],
        secret=creds["secretAccessKey"],
        aws_session_token=creds["sessionToken"],
    )
    arn = str(sts.get_caller_identity()["Arn"])
    return arn.split(":assumed-role/", 1)[1].split("/", 1)[0]


@pytest.fixture(scope="module")
def amplify_runs(
    moto_url: str, idpool: LiveServer, user_pool: UserPool, identity_pool: str
) -> dict[str, Any]:
    """Amplify's signIn + fetchAuthSession for both users (node start-up costs ~1 s each)."""
    require_node()
    return {
        user: run_scenario(
            "amplify-user-pool.mjs",
            {
                "userPoolEndpoint": moto_url,
                "identityPoolEndpoint": idpool.url,
                "userPoolId": user_pool.pool_id,
                "userPoolClientId": user_pool.client_id,
                "identityPoolId": identity_pool,
                "username": user,
                "password": PASSWORD,
            },
            timeout=60,
        )
        for user in ("alice", "bob")
    }


@pytest.mark.node
def test_amplify_signed_in_session_gets_credentials(
    amplify_runs: dict[str, Any], idpool: LiveServer, moto_url: str, user_pool: UserPool
) -> None:
    out = amplify_runs["alice"]
    assert out["signedIn"] == {"isSignedIn": True, "nextStep": "DONE"}
    assert out["identityId"].startswith(f"{REGION}:")
    creds = out["credentials"]
    assert creds["identityId"] == out["identityId"]
    assert creds["accessKeyId"] and creds["hasSessionToken"] and creds["expirationIsDate"]
    targets = [(c["url"].rstrip("/"), c["target"]) for c in out["calls"]]
    assert targets == [
        (moto_url, "AWSCognitoIdentityProviderService.InitiateAuth"),
        (idpool.url, "AWSCognitoIdentityService.GetId"),
        (idpool.url, "AWSCognitoIdentityService.GetCredentialsForIdentity"),
    ]
    admin: Any = make_client(idpool.url)
    described = admin.describe_identity(IdentityId=out["identityId"])
    assert described["Logins"] == [user_pool.key]


@pytest.mark.node
def test_amplify_rules_on_cognito_groups_pick_the_role(
    amplify_runs: dict[str, Any], moto_url: str
) -> None:
    assert role_of(moto_url, amplify_runs["alice"]["credentials"]) == "pool-admin"
    assert role_of(moto_url, amplify_runs["bob"]["credentials"]) == "signed-in"
    assert amplify_runs["alice"]["identityId"] != amplify_runs["bob"]["identityId"]


def tampered(token: str, **changes: Any) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{head}.{forged}.{signature}"


def get_id_error(idpool: LiveServer, identity_pool: str, key: str, token: str) -> tuple[str, str]:
    public: Any = make_client(idpool.url, signed=False)
    with pytest.raises(ClientError) as exc:
        public.get_id(IdentityPoolId=identity_pool, Logins={key: token})
    return error_of(exc)[:2]


def test_tampered_token_refused(
    moto_url: str, idpool: LiveServer, user_pool: UserPool, identity_pool: str
) -> None:
    token = sign_in(moto_url, user_pool, "bob")["IdToken"]
    forged = tampered(token, **{"cognito:groups": ["admins"]})
    assert get_id_error(idpool, identity_pool, user_pool.key, forged) == (
        "NotAuthorizedException",
        "Invalid login token. Couldn't verify signed token.",
    )


def test_wrong_client_and_access_tokens_refused(
    moto_url: str, idpool: LiveServer, user_pool: UserPool, identity_pool: str
) -> None:
    other = sign_in(moto_url, user_pool, "bob", user_pool.other_client_id)["IdToken"]
    assert get_id_error(idpool, identity_pool, user_pool.key, other) == (
        "NotAuthorizedException",
        "Token is not from a supported provider of this identity pool.",
    )
    access = sign_in(moto_url, user_pool, "bob")["AccessToken"]
    assert get_id_error(idpool, identity_pool, user_pool.key, access) == (
        "NotAuthorizedException",
        "Invalid login token. Missing a required claim: aud",
    )


def test_token_of_another_pool_refused(
    moto_url: str, idpool: LiveServer, user_pool: UserPool, identity_pool: str
) -> None:
    stranger = make_user_pool(moto_url, "strangers")
    token = sign_in(moto_url, stranger, "alice", stranger.client_id)["IdToken"]
    assert get_id_error(idpool, identity_pool, user_pool.key, token) == (
        "NotAuthorizedException",
        "Invalid login token. Issuer doesn't match providerName",
    )


def test_pool_created_after_start_needs_no_configuration(moto_url: str, idpool: LiveServer) -> None:
    """What an emulator restart looks like: a new pool id, and idpool is not touched."""
    fresh = make_user_pool(moto_url, "after-restart")
    identity_pool = identity_pool_for(idpool, fresh)
    public: Any = make_client(idpool.url, signed=False)
    token = sign_in(moto_url, fresh, "alice")["IdToken"]
    identity = public.get_id(IdentityPoolId=identity_pool, Logins={fresh.key: token})
    creds = public.get_credentials_for_identity(
        IdentityId=identity["IdentityId"], Logins={fresh.key: token}
    )["Credentials"]
    role = role_of(
        moto_url,
        {
            "accessKeyId": creds["AccessKeyId"],
            "secretAccessKey": creds["SecretKey"],
            "sessionToken": creds["SessionToken"],
        },
    )
    assert role == "pool-admin"
