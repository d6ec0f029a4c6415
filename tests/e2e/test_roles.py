"""Set/GetIdentityPoolRoles storage and validation through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_pools import error_of

USER_POOL = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Roles1"
AUTH = "arn:aws:iam::123456789012:role/auth"
UNAUTH = "arn:aws:iam::123456789012:role/unauth"


@pytest.fixture
def pool_id(pool_factory: Any) -> str:
    return str(
        pool_factory(
            CognitoIdentityProviders=[{"ProviderName": USER_POOL, "ClientId": "app1"}],
            SupportedLoginProviders={"accounts.google.com": "g"},
        )["IdentityPoolId"]
    )


def test_roles_round_trip(cognito: Any, pool_id: str) -> None:
    mappings = {
        f"{USER_POOL}:app1": {
            "Type": "Rules",
            "AmbiguousRoleResolution": "Deny",
            "RulesConfiguration": {
                "Rules": [
                    {"Claim": "custom:dept", "MatchType": "Equals", "Value": "eng", "RoleARN": AUTH}
                ]
            },
        },
        "accounts.google.com": {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
    }
    cognito.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={"authenticated": AUTH, "unauthenticated": UNAUTH},
        RoleMappings=mappings,
    )
    got = cognito.get_identity_pool_roles(IdentityPoolId=pool_id)
    assert got["IdentityPoolId"] == pool_id
    assert got["Roles"] == {"authenticated": AUTH, "unauthenticated": UNAUTH}
    assert got["RoleMappings"] == mappings
    cognito.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": AUTH})
    got = cognito.get_identity_pool_roles(IdentityPoolId=pool_id)
    assert got["Roles"] == {"authenticated": AUTH}
    assert "RoleMappings" not in got


@pytest.mark.parametrize(
    "key",
    [USER_POOL, f"https://{USER_POOL}:app1", f"{USER_POOL}:other-client", "graph.facebook.com"],
)
def test_mapping_key_must_be_configured(cognito: Any, pool_id: str, key: str) -> None:
    with pytest.raises(ClientError) as exc:
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={},
            RoleMappings={key: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}},
        )
    assert error_of(exc)[:2] == (
        "InvalidParameterException",
        f"{key} is not a valid RoleMapping ProviderName or is not a configured provider.",
    )


def test_ambiguous_resolution_required(cognito: Any, pool_id: str) -> None:
    with pytest.raises(ClientError) as exc:
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={},
            RoleMappings={"accounts.google.com": {"Type": "Token"}},
        )
    assert error_of(exc)[0] == "InvalidParameterException"


def test_more_than_25_rules_refused(cognito: Any, pool_id: str) -> None:
    rules = [
        {"Claim": "c", "MatchType": "Equals", "Value": str(i), "RoleARN": AUTH} for i in range(26)
    ]
    with pytest.raises(ClientError) as exc:
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={},
            RoleMappings={
                "accounts.google.com": {
                    "Type": "Rules",
                    "AmbiguousRoleResolution": "Deny",
                    "RulesConfiguration": {"Rules": rules},
                }
            },
        )
    assert error_of(exc)[0] == "InvalidParameterException"


def test_bad_role_arn_refused(cognito: Any, pool_id: str) -> None:
    with pytest.raises(ClientError) as exc:
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id, Roles={"authenticated": "arn:aws:s3:::not-a-role-arn"}
        )
    assert error_of(exc)[0] == "InvalidParameterException"


def test_roles_of_unknown_pool(cognito: Any) -> None:
    missing = "us-east-1:00000000-0000-4000-8000-00000000000a"
    with pytest.raises(ClientError) as exc:
        cognito.get_identity_pool_roles(IdentityPoolId=missing)
    assert error_of(exc)[0] == "ResourceNotFoundException"
