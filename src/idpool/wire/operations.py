"""THE list of operations: 23 rows, each mapping AWS parameters to a service call and back.

A test asserts these rows cover exactly the operations of botocore's model. Parameters have
already passed the model's constraints, so required members are present and typed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from idpool.domain.pool_config import (
    pool_shape,
    role_mapping_shape,
    role_mappings_from_shape,
    spec_from_shape,
    tag_map_shape,
)
from idpool.domain.records import Caller, IdentityView, PrincipalTagMap
from idpool.service.facade import IdentityPoolService

Params = Mapping[str, Any]
Result = dict[str, Any] | None
Handler = Callable[[IdentityPoolService, Caller, Params], Awaitable[Result]]


def _identity_out(view: IdentityView) -> dict[str, Any]:
    identity = view.identity
    return {
        "IdentityId": identity.identity_id,
        "Logins": list(view.providers),
        "CreationDate": identity.created_at,
        "LastModifiedDate": identity.modified_at,
    }


# --- pools ------------------------------------------------------------------------------------


async def create_identity_pool(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return pool_shape(await s.pools.create(c, spec_from_shape(p)))


async def describe_identity_pool(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return pool_shape(await s.pools.describe(c, p["IdentityPoolId"]))


async def update_identity_pool(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    return pool_shape(await s.pools.update(c, p["IdentityPoolId"], spec_from_shape(p)))


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
    return _tag_map_out(p, entry)


async def get_principal_tag_attribute_map(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    entry = await s.pools.get_principal_tags(c, p["IdentityPoolId"], p["IdentityProviderName"])
    return _tag_map_out(p, entry)


def _tag_map_out(p: Params, entry: PrincipalTagMap) -> Result:
    return {
        "IdentityPoolId": p["IdentityPoolId"],
        "IdentityProviderName": p["IdentityProviderName"],
        **tag_map_shape(entry),
    }


# --- roles ------------------------------------------------------------------------------------


async def set_identity_pool_roles(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    mappings = role_mappings_from_shape(p.get("RoleMappings"))
    await s.roles.set_roles(c, p["IdentityPoolId"], p["Roles"], mappings)
    return None


async def get_identity_pool_roles(s: IdentityPoolService, c: Caller, p: Params) -> Result:
    pool = await s.roles.get_roles(c, p["IdentityPoolId"])
    out: dict[str, Any] = {"IdentityPoolId": pool.pool_id, "Roles": dict(pool.roles)}
    if pool.role_mappings:
        out["RoleMappings"] = {k: role_mapping_shape(m) for k, m in pool.role_mappings.items()}
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
