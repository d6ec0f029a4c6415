"""Pool configuration to and from the JSON document kept in `pools.config`."""

from __future__ import annotations

from typing import Any

import orjson

from idpool.domain.records import (
    CognitoProvider,
    MappingRule,
    Pool,
    PrincipalTagMap,
    RoleMapping,
)


def pool_config_json(pool: Pool) -> str:
    doc: dict[str, Any] = {
        "allow_unauthenticated": pool.allow_unauthenticated,
        "allow_classic_flow": pool.allow_classic_flow,
        "supported_login_providers": dict(pool.supported_login_providers),
        "developer_provider_name": pool.developer_provider_name,
        "open_id_connect_provider_arns": list(pool.open_id_connect_provider_arns),
        "cognito_identity_providers": [
            [p.provider_name, p.client_id, p.server_side_token_check]
            for p in pool.cognito_identity_providers
        ],
        "saml_provider_arns": list(pool.saml_provider_arns),
        "tags": dict(pool.tags),
        "roles": dict(pool.roles),
        "role_mappings": {
            key: {
                "type": m.type,
                "ambiguous": m.ambiguous_role_resolution,
                "rules": None
                if m.rules is None
                else [[r.claim, r.match_type, r.value, r.role_arn] for r in m.rules],
            }
            for key, m in pool.role_mappings.items()
        },
        "principal_tag_maps": {
            key: {"use_defaults": t.use_defaults, "tags": dict(t.tags)}
            for key, t in pool.principal_tag_maps.items()
        },
    }
    return orjson.dumps(doc).decode()


def pool_from_row(
    pool_id: str,
    account_id: str,
    region: str,
    name: str,
    created_at: float,
    version: int,
    config: str,
) -> Pool:
    doc = orjson.loads(config)
    return Pool(
        pool_id=pool_id,
        account_id=account_id,
        region=region,
        name=name,
        created_at=created_at,
        version=version,
        allow_unauthenticated=doc["allow_unauthenticated"],
        allow_classic_flow=doc.get("allow_classic_flow"),
        supported_login_providers=doc.get("supported_login_providers") or {},
        developer_provider_name=doc.get("developer_provider_name"),
        open_id_connect_provider_arns=tuple(doc.get("open_id_connect_provider_arns") or ()),
        cognito_identity_providers=tuple(
            CognitoProvider(name_, client, bool(check))
            for name_, client, check in doc.get("cognito_identity_providers") or ()
        ),
        saml_provider_arns=tuple(doc.get("saml_provider_arns") or ()),
        tags=doc.get("tags") or {},
        roles=doc.get("roles") or {},
        role_mappings={
            key: RoleMapping(
                type=m["type"],
                ambiguous_role_resolution=m.get("ambiguous"),
                rules=None
                if m.get("rules") is None
                else tuple(MappingRule(*rule) for rule in m["rules"]),
            )
            for key, m in (doc.get("role_mappings") or {}).items()
        },
        principal_tag_maps={
            key: PrincipalTagMap(t.get("use_defaults"), t.get("tags") or {})
            for key, t in (doc.get("principal_tag_maps") or {}).items()
        },
    )
