"""Pool rows to and from records: the `pools.config` column holds `pool_document`'s JSON.

The document is the API's own shape (domain/pool_config.py); rows written before that shape
was adopted hold snake_case keys and are read through `_upgrade_legacy` (never written again:
the next update of such a pool rewrites it in the current shape).
"""

from __future__ import annotations

from typing import Any

import orjson

from idpool.domain.pool_config import pool_document, pool_from_document
from idpool.domain.records import Pool


def pool_config_json(pool: Pool) -> str:
    return orjson.dumps(pool_document(pool)).decode()


def pool_from_row(
    pool_id: str,
    account_id: str,
    region: str,
    name: str,
    created_at: float,
    version: int,
    config: str,
) -> Pool:
    identity = Pool(
        pool_id=pool_id,
        account_id=account_id,
        region=region,
        name=name,
        allow_unauthenticated=False,
        created_at=created_at,
        version=version,
    )
    return pool_from_document(identity, _upgrade_legacy(orjson.loads(config)))


def _upgrade_legacy(doc: dict[str, Any]) -> dict[str, Any]:
    """A document of the first storage format (snake_case keys) in the current shape."""
    if "allow_unauthenticated" not in doc:
        return doc
    return {
        "AllowUnauthenticatedIdentities": doc["allow_unauthenticated"],
        "AllowClassicFlow": doc.get("allow_classic_flow"),
        "SupportedLoginProviders": doc.get("supported_login_providers"),
        "DeveloperProviderName": doc.get("developer_provider_name"),
        "OpenIdConnectProviderARNs": doc.get("open_id_connect_provider_arns"),
        "CognitoIdentityProviders": [
            {"ProviderName": name, "ClientId": client, "ServerSideTokenCheck": bool(check)}
            for name, client, check in doc.get("cognito_identity_providers") or ()
        ],
        "SamlProviderARNs": doc.get("saml_provider_arns"),
        "IdentityPoolTags": doc.get("tags"),
        "Roles": doc.get("roles"),
        "RoleMappings": {
            key: {
                "Type": m["type"],
                "AmbiguousRoleResolution": m.get("ambiguous"),
                "RulesConfiguration": None
                if m.get("rules") is None
                else {
                    "Rules": [
                        {"Claim": c, "MatchType": t, "Value": v, "RoleARN": r}
                        for c, t, v, r in m["rules"]
                    ]
                },
            }
            for key, m in (doc.get("role_mappings") or {}).items()
        },
        "PrincipalTagMaps": {
            key: {"UseDefaults": t.get("use_defaults"), "PrincipalTags": t.get("tags")}
            for key, t in (doc.get("principal_tag_maps") or {}).items()
        },
    }
