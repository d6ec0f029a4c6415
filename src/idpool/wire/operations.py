"""THE list of operations: 23 rows, each mapping AWS parameters to a service call and back.

A test asserts these rows cover exactly the operations of botocore's model. Parameters have
already passed the model's constraints, so required members are present and typed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from idpool.domain.records import (
    Caller,
    CognitoProvider,
    IdentityView,
    MappingRule,
    Pool,
    RoleMapping,
)
from idpool.service.facade import IdentityPoolService
from idpool.service.pools import PoolSpec

Params = Mapping[str, Any]
Result = dict[str, Any] | None
Handler = Callable[[IdentityPoolService, Caller, Params], Awaitable[Result]]


def _pool_out(pool: Pool) -> dict[str, Any]:
    """The IdentityPool shape: tags always present, other optional members only when set."""
    out: dict[str, Any] = {
        "IdentityPoolId": pool.pool_id,
        "IdentityPoolName": pool.name,
        "AllowUnauthenticatedIdentities": pool.allow_unauthenticated,
        "IdentityPoolTags": dict(pool.tags),
    }
    if pool.allow_classic_flow is not None:
        out["AllowClassicFlow"] = pool.allow_classic_flow
    if pool.supported_login_providers:
        out["SupportedLoginProviders"] = dict(pool.supported_login_providers)
    if pool.developer_provider_name is not None:
        out["DeveloperProviderName"] = pool.developer_provider_name
    if pool.open_id_connect_provider_arns:
        out["OpenIdConnectProviderARNs"] = list(pool.open_id_connect_provider_arns)
    if pool.cognito_identity_providers:
        out["CognitoIdentityProviders"] = [
            {
                "ProviderName": p.provider_name,
                **({"ClientId": p.client_id} if p.client_id is not None else {}),
                "ServerSideTokenCheck": p.server_side_token_check,
            }
            for p in pool.cognito_identity_providers
        ]
    if pool.saml_provider_arns:
        out["SamlProviderARNs"] = list(pool.saml_provider_arns)
    return out


def _spec(p: Params) -> PoolSpec:
    providers = p.get("CognitoIdentityProviders")
    return PoolSpec(
        name=p["IdentityPoolName"],
        allow_unauthenticated=p["AllowUnauthenticatedIdentities"],
        allow_classic_flow=p.get("AllowClassicFlow"),
        supported_login_providers=p.get("SupportedLoginProviders"),
        developer_provider_name=p.get("DeveloperProviderName"),
        open_id_connect_provider_arns=p.get("OpenIdConnectProviderARNs"),
        cognito_identity_providers=None
        if providers is None
        else [
            CognitoProvider(
                provider_name=item.get("ProviderName") or "",
                client_id=item.get("ClientId"),
                server_side_token_check=bool(item.get("ServerSideTokenCheck", False)),
            )
            for item in providers
        ],
        saml_provider_arns=p.get("SamlProviderARNs"),
        tags=p.get("IdentityPoolTags"),
    )


def _identity_out(view: IdentityView) -> dict[str, Any]:
    identity = view.identity
    return {
        "IdentityId": identity.identity_id,
        "Logins": list(view.providers),
        "CreationDate": identity.created_at,
        "LastModifiedDate": identity.modified_at,
    }


def _role_mapping_in(raw: Mapping[str, Any]) -> RoleMapping:
    rules_config = raw.get("RulesConfiguration")
    rules = None
    if rules_config is not None:
        rules = tuple(
            MappingRule(r["Claim"], r["MatchType"], r["Value"], r["RoleARN"])
            for r in rules_config.get("Rules") or ()
        )
    return RoleMapping(
        type=raw["Type"], ambiguous_role_resolution=raw.get("AmbiguousRoleResolution"), rules=rules
    )


def _role_mapping_out(mapping: RoleMapping) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": mapping.type}
    if mapping.ambiguous_role_resolution is not None:
        out["AmbiguousRoleResolution"] = mapping.ambiguous_role_resolution
    if mapping.rules is not None:
        out["RulesConfiguration"] = {
            "Rules": [
                {
                    "Claim": r.claim,
                    "MatchType": r.match_type,
                    "Value": r.value,
                    "RoleARN": r.role_arn,
                }
                for r in mapping.rules
            ]
        }
    return out


# --- pools ------------------------------------------------------------------------------------


async def create_identity_pool(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return _pool_out(await s.pools.create(c, _spec(p)))


async def describe_identity_pool(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return _pool_out(await s.pools.describe(c, p["IdentityPoolId"]))


async def update_identity_pool(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return _pool_out(await s.pools.update(c, p["IdentityPoolId"], _spec(p)))


async def delete_identity_pool(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    await s.pools.delete(c, p["IdentityPoolId"])
    return None


async def list_identity_pools(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    page = await s.pools.list_page(c, p["MaxResults"], p.get("NextToken"))
    out: dict[str, Any] = {
        "IdentityPools": [
            {"IdentityPoolId": pool.pool_id, "IdentityPoolName": pool.name} for pool in page.items
        ]
    }
    if page.next_token:
        out["NextToken"] = page.next_token
    return out


async def tag_resource(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    await s.pools.tag(c, p["ResourceArn"], p["Tags"])
    return {}


async def untag_resource(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    await s.pools.untag(c, p["ResourceArn"], p["TagKeys"])
    return {}


async def list_tags_for_resource(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return {"Tags": dict(await s.pools.list_tags(c, p["ResourceArn"]))}


async def set_principal_tag_attribute_map(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    entry = await s.pools.set_principal_tags(
        c,
        p["IdentityPoolId"],
        p["IdentityProviderName"],
        p.get("UseDefaults"),
        p.get("PrincipalTags"),
    )
    return _tag_map_out(p, entry.use_defaults, entry.tags)


async def get_principal_tag_attribute_map(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    entry = await s.pools.get_principal_tags(c, p["IdentityPoolId"], p["IdentityProviderName"])
    return _tag_map_out(p, entry.use_defaults, entry.tags)


def _tag_map_out(p: Params, use_defaults: bool | None, tags: Mapping[str, str]) -> Result:
    out: dict[str, Any] = {
        "IdentityPoolId": p["IdentityPoolId"],
        "IdentityProviderName": p["IdentityProviderName"],
        "PrincipalTags": dict(tags),
    }
    if use_defaults is not None:
        out["UseDefaults"] = use_defaults
    return out


# --- roles ------------------------------------------------------------------------------------


async def set_identity_pool_roles(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    raw = p.get("RoleMappings")
    mappings = None if raw is None else {k: _role_mapping_in(v) for k, v in raw.items()}
    await s.roles.set_roles(c, p["IdentityPoolId"], p["Roles"], mappings)
    return None


async def get_identity_pool_roles(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    pool = await s.roles.get_roles(c, p["IdentityPoolId"])
    out: dict[str, Any] = {"IdentityPoolId": pool.pool_id, "Roles": dict(pool.roles)}
    if pool.role_mappings:
        out["RoleMappings"] = {k: _role_mapping_out(m) for k, m in pool.role_mappings.items()}
    return out


# --- identities -------------------------------------------------------------------------------


async def get_id(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    identity_id = await s.identities.get_id(
        p["IdentityPoolId"], p.get("Logins"), p.get("AccountId")
    )
    return {"IdentityId": identity_id}


async def describe_identity(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return _identity_out(await s.identities.describe(c, p["IdentityId"]))


async def list_identities(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    page = await s.identities.list_page(
        c, p["IdentityPoolId"], p["MaxResults"], p.get("NextToken"), bool(p.get("HideDisabled"))
    )
    out: dict[str, Any] = {
        "IdentityPoolId": p["IdentityPoolId"],
        "Identities": [_identity_out(v) for v in page.items],
    }
    if page.next_token:
        out["NextToken"] = page.next_token
    return out


async def delete_identities(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    unprocessed = await s.identities.delete(c, p["IdentityIdsToDelete"])
    return {
        "UnprocessedIdentityIds": [
            {"IdentityId": identity_id, "ErrorCode": code} for identity_id, code in unprocessed
        ]
    }


async def unlink_identity(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    await s.identities.unlink(p["IdentityId"], p["Logins"], p["LoginsToRemove"])
    return None


# --- tokens and credentials -------------------------------------------------------------------


async def get_open_id_token(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    identity_id, token = await s.tokens.get_open_id_token(p["IdentityId"], p.get("Logins"))
    return {"IdentityId": identity_id, "Token": token}


async def get_credentials_for_identity(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    identity_id, creds = await s.credentials.get_credentials(
        p["IdentityId"], p.get("Logins"), p.get("CustomRoleArn")
    )
    return {
        "IdentityId": identity_id,
        "Credentials": {
            "AccessKeyId": creds.access_key_id,
            "SecretKey": creds.secret_key,
            "SessionToken": creds.session_token,
            "Expiration": creds.expiration,
        },
    }


# --- developer identities ---------------------------------------------------------------------


async def get_open_id_token_for_developer_identity(
    s: IdentityPoolService, c: Caller, p: Params
) -> Result:
    identity_id, token = await s.developer.open_id_token(
        c,
        p["IdentityPoolId"],
        p.get("IdentityId"),
        p["Logins"],
        p.get("PrincipalTags"),
        p.get("TokenDuration"),
    )
    return {"IdentityId": identity_id, "Token": token}


async def lookup_developer_identity(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    found = await s.developer.lookup(
        c,
        p["IdentityPoolId"],
        p.get("IdentityId"),
        p.get("DeveloperUserIdentifier"),
        p.get("MaxResults"),
        p.get("NextToken"),
    )
    out: dict[str, Any] = {
        "IdentityId": found.identity_id,
        "DeveloperUserIdentifierList": list(found.developer_user_ids),
    }
    if found.next_token:
        out["NextToken"] = found.next_token
    return out


async def merge_developer_identities(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    identity_id = await s.developer.merge(
        c,
        p["IdentityPoolId"],
        p["DeveloperProviderName"],
        p["SourceUserIdentifier"],
        p["DestinationUserIdentifier"],
    )
    return {"IdentityId": identity_id}


async def unlink_developer_identity(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    await s.developer.unlink(
        c,
        p["IdentityId"],
        p["IdentityPoolId"],
        p["DeveloperProviderName"],
        p["DeveloperUserIdentifier"],
    )
    return None


OPERATIONS: dict[str, Handler] = {
    "CreateIdentityPool": create_identity_pool,
    "DeleteIdentities": delete_identities,
    "DeleteIdentityPool": delete_identity_pool,
    "DescribeIdentity": describe_identity,
    "DescribeIdentityPool": describe_identity_pool,
    "GetCredentialsForIdentity": get_credentials_for_identity,
    "GetId": get_id,
    "GetIdentityPoolRoles": get_identity_pool_roles,
    "GetOpenIdToken": get_open_id_token,
    "GetOpenIdTokenForDeveloperIdentity": get_open_id_token_for_developer_identity,
    "GetPrincipalTagAttributeMap": get_principal_tag_attribute_map,
    "ListIdentities": list_identities,
    "ListIdentityPools": list_identity_pools,
    "ListTagsForResource": list_tags_for_resource,
    "LookupDeveloperIdentity": lookup_developer_identity,
    "MergeDeveloperIdentities": merge_developer_identities,
    "SetIdentityPoolRoles": set_identity_pool_roles,
    "SetPrincipalTagAttributeMap": set_principal_tag_attribute_map,
    "TagResource": tag_resource,
    "UnlinkDeveloperIdentity": unlink_developer_identity,
    "UnlinkIdentity": unlink_identity,
    "UntagResource": untag_resource,
    "UpdateIdentityPool": update_identity_pool,
}
