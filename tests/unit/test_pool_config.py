"""The one pool-configuration mapping: wire shape, stored document, and rows of the old format."""

from __future__ import annotations

import orjson

from idpool.domain.pool_config import pool_shape, spec_from_shape
from idpool.domain.records import CognitoProvider, MappingRule, Pool, PrincipalTagMap, RoleMapping
from idpool.storage.codec import pool_config_json, pool_from_row

FULL = Pool(
    pool_id="us-east-1:11111111-1111-4111-8111-111111111111",
    account_id="123456789012",
    region="us-east-1",
    name="everything",
    allow_unauthenticated=True,
    allow_classic_flow=False,
    supported_login_providers={"graph.facebook.com": "app"},
    developer_provider_name="login.example",
    open_id_connect_provider_arns=("arn:aws:iam::123456789012:oidc-provider/idp.example",),
    cognito_identity_providers=(
        CognitoProvider("cognito-idp.us-east-1.amazonaws.com/us-east-1_A", "client", True),
        CognitoProvider("cognito-idp.us-east-1.amazonaws.com/us-east-1_B"),
    ),
    saml_provider_arns=("arn:aws:iam::123456789012:saml-provider/corp",),
    tags={"env": "dev"},
    roles={"authenticated": "arn:aws:iam::123456789012:role/a"},
    role_mappings={
        "graph.facebook.com": RoleMapping("Token", "Deny"),
        "login.example": RoleMapping(
            "Rules",
            "AuthenticatedRole",
            (MappingRule("groups", "Contains", "admins", "arn:aws:iam::123456789012:role/x"),),
        ),
    },
    principal_tag_maps={"graph.facebook.com": PrincipalTagMap(None, {"k": "sub"})},
    created_at=12.5,
    version=3,
)
BARE = Pool(
    pool_id="us-east-1:22222222-2222-4222-8222-222222222222",
    account_id="123456789012",
    region="us-east-1",
    name="bare",
    allow_unauthenticated=False,
    created_at=1.0,
    version=1,
)


def _row(pool: Pool, config: str) -> Pool:
    return pool_from_row(
        pool.pool_id,
        pool.account_id,
        pool.region,
        pool.name,
        pool.created_at,
        pool.version,
        config,
    )


def test_stored_document_round_trips() -> None:
    for pool in (FULL, BARE):
        assert _row(pool, pool_config_json(pool)) == pool


def test_stored_document_is_the_api_shape() -> None:
    doc = orjson.loads(pool_config_json(FULL))
    shape = pool_shape(FULL)
    assert {k: v for k, v in doc.items() if k in shape} == {
        k: v for k, v in shape.items() if k not in ("IdentityPoolId", "IdentityPoolName")
    }


def test_wire_shape_leaves_out_what_is_not_set_and_reads_back() -> None:
    assert pool_shape(BARE) == {
        "IdentityPoolId": BARE.pool_id,
        "IdentityPoolName": "bare",
        "AllowUnauthenticatedIdentities": False,
        "IdentityPoolTags": {},
    }
    spec = spec_from_shape(pool_shape(FULL))
    assert spec.cognito_identity_providers == FULL.cognito_identity_providers
    assert spec.allow_classic_flow is False and spec.tags == {"env": "dev"}


def test_rows_of_the_first_format_still_read() -> None:
    """What the first storage format wrote for FULL, verbatim."""
    legacy = {
        "allow_unauthenticated": True,
        "allow_classic_flow": False,
        "supported_login_providers": {"graph.facebook.com": "app"},
        "developer_provider_name": "login.example",
        "open_id_connect_provider_arns": ["arn:aws:iam::123456789012:oidc-provider/idp.example"],
        "cognito_identity_providers": [
            ["cognito-idp.us-east-1.amazonaws.com/us-east-1_A", "client", True],
            ["cognito-idp.us-east-1.amazonaws.com/us-east-1_B", None, False],
        ],
        "saml_provider_arns": ["arn:aws:iam::123456789012:saml-provider/corp"],
        "tags": {"env": "dev"},
        "roles": {"authenticated": "arn:aws:iam::123456789012:role/a"},
        "role_mappings": {
            "graph.facebook.com": {"type": "Token", "ambiguous": "Deny", "rules": None},
            "login.example": {
                "type": "Rules",
                "ambiguous": "AuthenticatedRole",
                "rules": [["groups", "Contains", "admins", "arn:aws:iam::123456789012:role/x"]],
            },
        },
        "principal_tag_maps": {"graph.facebook.com": {"use_defaults": None, "tags": {"k": "sub"}}},
    }
    assert _row(FULL, orjson.dumps(legacy).decode()) == FULL
