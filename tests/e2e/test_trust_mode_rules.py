"""Trust mode with a social provider: Rules-type role mappings on what trust mode derives.

Credentials come from a real STS (moto's server), so the test sees which role each login was
given (GetCallerIdentity names the assumed role) instead of inferring it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.e2e.test_pools import error_of
from tests.support.live import LiveServer, live_server, settings_for_tests
from tests.support.sts import moto_sts

FB = "graph.facebook.com"
AUTH = "arn:aws:iam::123456789012:role/fb-auth"
ADMIN = "arn:aws:iam::123456789012:role/fb-admin"
READER = "arn:aws:iam::123456789012:role/fb-reader"


@pytest.fixture(scope="module")
def sts_url() -> Iterator[str]:
    with moto_sts() as url:
        yield url


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory, sts_url: str) -> Iterator[LiveServer]:
    db = tmp_path_factory.mktemp("trust") / "idpool.sqlite3"
    settings = settings_for_tests(
        f"sqlite:///{db}", trust_mode=True, credential_mode="sts", sts_endpoint=sts_url
    )
    with live_server(settings) as live:
        yield live


@pytest.fixture(scope="module")
def fb_pool(trusting: LiveServer) -> str:
    admin: Any = make_client(trusting.url)
    pool_id = admin.create_identity_pool(
        IdentityPoolName="fb-rules",
        AllowUnauthenticatedIdentities=False,
        SupportedLoginProviders={FB: "app-1"},
    )["IdentityPoolId"]

    def rule(claim: str, value: str, role: str) -> dict[str, str]:
        return {"Claim": claim, "MatchType": "Equals", "Value": value, "RoleARN": role}

    admin.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={"authenticated": AUTH},
        RoleMappings={
            FB: {
                "Type": "Rules",
                "AmbiguousRoleResolution": "Deny",
                "RulesConfiguration": {
                    "Rules": [
                        rule("sub", "fb-admin", ADMIN),
                        rule("department", "sales", READER),
                        rule("aud", "app-1", AUTH),
                    ]
                },
            }
        },
    )
    return str(pool_id)


def role_of(trusting: LiveServer, sts_url: str, pool_id: str, token: str) -> str:
    """The role the assumed credentials belong to, as STS itself reports it."""
    public: Any = make_client(trusting.url, signed=False)
    identity = public.get_id(IdentityPoolId=pool_id, Logins={FB: token})["IdentityId"]
    creds = public.get_credentials_for_identity(IdentityId=identity, Logins={FB: token})
    sts = boto3.client(
        "sts",
        endpoint_url=sts_url,
        region_name="us-east-1",
        aws_access_key_id=creds["Credentials"]["AccessKeyId"],
        aws_secret_access_key=creds["Credentials"]["SecretKey"],
        aws_session_token=creds["Credentials"]["SessionToken"],
    )
    arn = sts.get_caller_identity()["Arn"]
    return str(arn.split(":assumed-role/", 1)[1].split("/", 1)[0])


def unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("token", "role"),
    [
        ("fb-admin", "fb-admin"),  # opaque: the token is the sub
        ("EAAB-someone-else", "fb-auth"),  # opaque: aud is the pool's app id
        (json.dumps({"sub": "u-17", "department": "sales"}), "fb-reader"),  # JSON claims
        (unsigned_jwt({"sub": "fb-admin"}), "fb-admin"),  # unsigned JWT claims
    ],
)
def test_rules_match_trust_mode_claims(
    trusting: LiveServer, sts_url: str, fb_pool: str, token: str, role: str
) -> None:
    assert role_of(trusting, sts_url, fb_pool, token) == role


def test_no_rule_matching_is_denied(trusting: LiveServer, fb_pool: str) -> None:
    public: Any = make_client(trusting.url, signed=False)
    token = json.dumps({"sub": "u-18", "aud": "another-app"})
    identity = public.get_id(IdentityPoolId=fb_pool, Logins={FB: token})["IdentityId"]
    with pytest.raises(ClientError) as exc:
        public.get_credentials_for_identity(IdentityId=identity, Logins={FB: token})
    assert error_of(exc)[:2] == (
        "NotAuthorizedException",
        f"The ambiguous role mapping rules for: {FB} denied this request.",
    )


def test_same_opaque_token_is_the_same_identity(trusting: LiveServer, fb_pool: str) -> None:
    public: Any = make_client(trusting.url, signed=False)
    first = public.get_id(IdentityPoolId=fb_pool, Logins={FB: "fb-same"})["IdentityId"]
    again = public.get_id(IdentityPoolId=fb_pool, Logins={FB: "fb-same"})["IdentityId"]
    json_form = public.get_id(IdentityPoolId=fb_pool, Logins={FB: '{"sub": "fb-same"}'})
    assert first == again == json_form["IdentityId"]
