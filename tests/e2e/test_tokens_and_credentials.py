"""GetOpenIdToken, GetCredentialsForIdentity and the developer flow through boto3.

The session server runs in trust mode, so provider tokens here are unsigned JWTs whose claims
drive role mapping; real signature checks are tested with the test identity provider.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_pools import error_of

AUTH = "arn:aws:iam::123456789012:role/auth"
UNAUTH = "arn:aws:iam::123456789012:role/unauth"
ADMIN = "arn:aws:iam::123456789012:role/admin"
UP = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Flow001"
FB = "graph.facebook.com"


def fake_jwt(**claims: Any) -> str:
    """An unsigned JWT: accepted only because the test server runs in trust mode."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def header_of(token: str) -> dict[str, Any]:
    head = token.split(".", maxsplit=1)[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


@pytest.fixture
def flow_pool(cognito: Any, pool_factory: Any) -> str:
    pool_id = str(
        pool_factory(
            SupportedLoginProviders={FB: "app-1"},
            CognitoIdentityProviders=[{"ProviderName": UP, "ClientId": "client1"}],
            DeveloperProviderName="login.example.app",
        )["IdentityPoolId"]
    )
    cognito.set_identity_pool_roles(
        IdentityPoolId=pool_id, Roles={"authenticated": AUTH, "unauthenticated": UNAUTH}
    )
    return pool_id


def user_pool_token(sub: str, **claims: Any) -> str:
    return fake_jwt(
        iss=f"https://{UP}",
        aud="client1",
        sub=sub,
        token_use="id",
        exp=int(time.time()) + 600,
        **claims,
    )


def test_guest_browser_flow(unsigned: Any, flow_pool: str) -> None:
    identity = unsigned.get_id(IdentityPoolId=flow_pool)["IdentityId"]
    result = unsigned.get_credentials_for_identity(IdentityId=identity)
    assert result["IdentityId"] == identity
    creds = result["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["SecretKey"] and creds["SessionToken"]
    assert isinstance(creds["Expiration"], datetime)
    remaining = creds["Expiration"].timestamp() - time.time()
    assert 3500 < remaining <= 3601


def test_guest_open_id_token_claims(unsigned: Any, flow_pool: str) -> None:
    identity = unsigned.get_id(IdentityPoolId=flow_pool)["IdentityId"]
    result = unsigned.get_open_id_token(IdentityId=identity)
    token = result["Token"]
    assert header_of(token)["alg"] == "RS512" and header_of(token)["typ"] == "JWS"
    claims = claims_of(token)
    assert claims["sub"] == identity and claims["aud"] == flow_pool
    assert claims["amr"] == ["unauthenticated"]
    assert claims["exp"] - claims["iat"] == 600
    assert claims["https://cognito-identity.amazonaws.com/identity-pool-arn"] == (
        f"arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{flow_pool}"
    )


def test_authenticated_identity_needs_its_login(unsigned: Any, flow_pool: str) -> None:
    identity = unsigned.get_id(IdentityPoolId=flow_pool, Logins={FB: "fb-user-1"})["IdentityId"]
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(IdentityId=identity)
    assert error_of(exc) == (
        "NotAuthorizedException",
        f"Access to Identity '{identity}' is forbidden.",
        400,
    )
    with pytest.raises(ClientError) as exc:
        unsigned.get_open_id_token(IdentityId=identity, Logins={FB: "someone-else"})
    assert error_of(exc)[0] == "NotAuthorizedException"
    ok = unsigned.get_credentials_for_identity(IdentityId=identity, Logins={FB: "fb-user-1"})
    assert ok["IdentityId"] == identity


def test_authenticated_token_amr(unsigned: Any, flow_pool: str) -> None:
    token = user_pool_token("up-sub-1")
    identity = unsigned.get_id(IdentityPoolId=flow_pool, Logins={UP: token})["IdentityId"]
    result = unsigned.get_open_id_token(IdentityId=identity, Logins={UP: token})
    amr = claims_of(result["Token"])["amr"]
    assert amr[0] == "authenticated" and amr[1] == UP


def test_guest_converts_by_linking_a_login(cognito: Any, unsigned: Any, flow_pool: str) -> None:
    guest = unsigned.get_id(IdentityPoolId=flow_pool)["IdentityId"]
    result = unsigned.get_credentials_for_identity(IdentityId=guest, Logins={FB: "converted"})
    assert result["IdentityId"] == guest
    assert cognito.describe_identity(IdentityId=guest)["Logins"] == [FB]
    with pytest.raises(ClientError):
        unsigned.get_credentials_for_identity(IdentityId=guest)


def test_guest_with_login_of_another_identity_is_merged(
    cognito: Any, unsigned: Any, flow_pool: str
) -> None:
    owner = unsigned.get_id(IdentityPoolId=flow_pool, Logins={FB: "returning"})["IdentityId"]
    guest = unsigned.get_id(IdentityPoolId=flow_pool)["IdentityId"]
    result = unsigned.get_open_id_token(IdentityId=guest, Logins={FB: "returning"})
    assert result["IdentityId"] == owner
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(IdentityId=guest)
    assert error_of(exc)[1] == f"Access to Identity '{guest}' is forbidden."


def test_disabled_identity_is_forbidden(unsigned: Any, flow_pool: str) -> None:
    identity = unsigned.get_id(IdentityPoolId=flow_pool, Logins={FB: "to-disable"})["IdentityId"]
    unsigned.unlink_identity(IdentityId=identity, Logins={FB: "to-disable"}, LoginsToRemove=[FB])
    with pytest.raises(ClientError) as exc:
        unsigned.get_open_id_token(IdentityId=identity)
    assert error_of(exc)[1] == f"Access to Identity '{identity}' is forbidden."


def test_no_role_is_configuration_error(cognito: Any, unsigned: Any, pool_factory: Any) -> None:
    pool_id = pool_factory()["IdentityPoolId"]
    identity = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(IdentityId=identity)
    assert error_of(exc) == (
        "InvalidIdentityPoolConfigurationException",
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
        400,
    )
    # The basic flow needs no roles.
    assert unsigned.get_open_id_token(IdentityId=identity)["Token"]


def test_guest_refused_after_pool_disallows_guests(
    cognito: Any, unsigned: Any, flow_pool: str
) -> None:
    identity = unsigned.get_id(IdentityPoolId=flow_pool)["IdentityId"]
    cognito.update_identity_pool(
        IdentityPoolId=flow_pool,
        IdentityPoolName="no guests",
        AllowUnauthenticatedIdentities=False,
        SupportedLoginProviders={FB: "app-1"},
    )
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(IdentityId=identity)
    assert error_of(exc)[1] == "Unauthenticated access is not supported for this identity pool."


@pytest.mark.parametrize(
    ("classic", "mappings", "expected"),
    [
        (None, False, None),
        (True, False, None),
        (False, False, "Basic (classic) flow is not enabled, please use enhanced flow."),
        (
            None,
            True,
            "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow.",
        ),
        (
            True,
            True,
            "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow.",
        ),
    ],
)
def test_classic_flow_states(
    cognito: Any,
    unsigned: Any,
    pool_factory: Any,
    classic: bool | None,
    mappings: bool,
    expected: str | None,
) -> None:
    kwargs: dict[str, Any] = {"SupportedLoginProviders": {FB: "app-1"}}
    if classic is not None:
        kwargs["AllowClassicFlow"] = classic
    pool_id = pool_factory(**kwargs)["IdentityPoolId"]
    if mappings:
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={"authenticated": AUTH},
            RoleMappings={FB: {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}},
        )
    identity = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]
    if expected is None:
        assert unsigned.get_open_id_token(IdentityId=identity)["Token"]
    else:
        with pytest.raises(ClientError) as exc:
            unsigned.get_open_id_token(IdentityId=identity)
        assert error_of(exc)[:2] == ("InvalidParameterException", expected)


def test_rules_mapping_picks_role_from_claims(cognito: Any, unsigned: Any, flow_pool: str) -> None:
    cognito.set_identity_pool_roles(
        IdentityPoolId=flow_pool,
        Roles={"authenticated": AUTH, "unauthenticated": UNAUTH},
        RoleMappings={
            f"{UP}:client1": {
                "Type": "Rules",
                "AmbiguousRoleResolution": "Deny",
                "RulesConfiguration": {
                    "Rules": [
                        {
                            "Claim": "custom:dept",
                            "MatchType": "Equals",
                            "Value": "ops",
                            "RoleARN": ADMIN,
                        }
                    ]
                },
            }
        },
    )
    ops = user_pool_token("ops-user", **{"custom:dept": "ops"})
    identity = unsigned.get_id(IdentityPoolId=flow_pool, Logins={UP: ops})["IdentityId"]
    creds = unsigned.get_credentials_for_identity(IdentityId=identity, Logins={UP: ops})
    assert creds["Credentials"]["AccessKeyId"]
    sales = user_pool_token("sales-user", **{"custom:dept": "sales"})
    other = unsigned.get_id(IdentityPoolId=flow_pool, Logins={UP: sales})["IdentityId"]
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(IdentityId=other, Logins={UP: sales})
    assert error_of(exc)[:2] == (
        "NotAuthorizedException",
        f"The ambiguous role mapping rules for: {UP}:client1 denied this request.",
    )


def test_developer_flow_with_own_token(cognito: Any, unsigned: Any, flow_pool: str) -> None:
    result = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=flow_pool,
        Logins={"login.example.app": "dev-user-42"},
        PrincipalTags={"team": "blue"},
        TokenDuration=1200,
    )
    claims = claims_of(result["Token"])
    assert claims["sub"] == result["IdentityId"]
    assert claims["exp"] - claims["iat"] == 1200
    assert claims["amr"] == [
        "authenticated",
        "login.example.app",
        f"login.example.app:{flow_pool}:dev-user-42",
    ]
    assert claims["https://aws.amazon.com/tags"] == {"principal_tags": {"team": ["blue"]}}
    creds = unsigned.get_credentials_for_identity(
        IdentityId=result["IdentityId"],
        Logins={"cognito-identity.amazonaws.com": result["Token"]},
    )
    assert creds["IdentityId"] == result["IdentityId"]
    assert creds["Credentials"]["SessionToken"]


def test_developer_token_default_lifetime(cognito: Any, flow_pool: str) -> None:
    result = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=flow_pool, Logins={"login.example.app": "dev-default"}
    )
    claims = claims_of(result["Token"])
    assert claims["exp"] - claims["iat"] == 900


def test_developer_token_duration_bounds(loose: Any, flow_pool: str) -> None:
    for bad in (0, 86401):
        with pytest.raises(ClientError) as exc:
            loose.get_open_id_token_for_developer_identity(
                IdentityPoolId=flow_pool, Logins={"login.example.app": "u"}, TokenDuration=bad
            )
        assert error_of(exc)[0] == "ValidationException"


def verify_with_discovery(server_url: str, token: str, audience: str) -> dict[str, Any]:
    """Verify a token knowing only the issuer's discovery document (PyJWT, not idpool code)."""
    import httpx
    import jwt

    discovery = httpx.get(f"{server_url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == server_url
    assert "RS512" in discovery["id_token_signing_alg_values_supported"]
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    return dict(
        jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS512"],
            audience=audience,
            issuer=discovery["issuer"],
        )
    )


def test_tokens_verify_through_discovery(
    server: Any, cognito: Any, unsigned: Any, flow_pool: str
) -> None:
    guest = unsigned.get_id(IdentityPoolId=flow_pool)["IdentityId"]
    basic = unsigned.get_open_id_token(IdentityId=guest)["Token"]
    assert verify_with_discovery(server.url, basic, flow_pool)["sub"] == guest
    developer = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=flow_pool, Logins={"login.example.app": "verified-dev"}
    )
    claims = verify_with_discovery(server.url, developer["Token"], flow_pool)
    assert claims["sub"] == developer["IdentityId"]
    assert claims["amr"][0] == "authenticated"


def test_tampered_own_token_is_refused(unsigned: Any, cognito: Any, flow_pool: str) -> None:
    result = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=flow_pool, Logins={"login.example.app": "tamper"}
    )
    head, _payload, signature = result["Token"].split(".")
    claims = claims_of(result["Token"])
    claims["sub"] = unsigned.get_id(IdentityPoolId=flow_pool)["IdentityId"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"{head}.{forged_payload}.{signature}"
    with pytest.raises(ClientError) as exc:
        unsigned.get_credentials_for_identity(
            IdentityId=claims["sub"], Logins={"cognito-identity.amazonaws.com": forged}
        )
    assert error_of(exc)[0] == "NotAuthorizedException"
