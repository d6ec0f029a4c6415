"""THE list of operations: 23 rows, each mapping AWS parameters to a service call and back.

A row holds every fact about its operation: the handler, whether it is public (from the
model), its rate quota and bucket, and what it issues (for the metrics). A test asserts these
rows cover exactly the operations of botocore's model. Parameters have already passed the
model's constraints, so required members are present and typed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
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
from idpool.service.rate_keys import RateKey
from idpool.wire.model import is_public

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


class Issues(Enum):
    """What a successful call hands out, for the metrics (docs/observability.md)."""

    TOKEN = "token"
    CREDENTIALS = "credentials"


@dataclass(frozen=True, slots=True)
class Operation:
    """Everything idpool knows about one operation, in one row.

    `rate` is AWS's published quota (requests per second per account; None: no published
    quota, the throttle's stand-in applies). `rate_key` names the bucket: the service's own key
    for public calls, which the service charges once it knows the pool's account; the
    operation's name for the rest, charged by the edge. Whether a call needs a signature is
    the model's (`public`).
    """

    name: str
    handler: Handler
    rate: float | None = None
    service_key: RateKey | None = None
    issues: Issues | None = None

    @property
    def public(self) -> bool:
        return is_public(self.name)

    @property
    def rate_key(self) -> str:
        return self.service_key.value if self.service_key is not None else self.name


# Rates: GetId and the token/credential calls from the Cognito Identity quotas page
# (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html); the tag calls from
# the API model's documentation strings.
_ROWS = (
    Operation("CreateIdentityPool", create_identity_pool),
    Operation("DeleteIdentities", delete_identities),
    Operation("DeleteIdentityPool", delete_identity_pool),
    Operation("DescribeIdentity", describe_identity),
    Operation("DescribeIdentityPool", describe_identity_pool),
    Operation(
        "GetCredentialsForIdentity",
        get_credentials_for_identity,
        rate=200.0,
        service_key=RateKey.CREDENTIALS,
        issues=Issues.CREDENTIALS,
    ),
    Operation("GetId", get_id, rate=25.0, service_key=RateKey.GET_ID),
    Operation("GetIdentityPoolRoles", get_identity_pool_roles),
    Operation(
        "GetOpenIdToken",
        get_open_id_token,
        rate=200.0,
        service_key=RateKey.OPEN_ID_TOKEN,
        issues=Issues.TOKEN,
    ),
    Operation(
        "GetOpenIdTokenForDeveloperIdentity",
        get_open_id_token_for_developer_identity,
        rate=200.0,
        issues=Issues.TOKEN,
    ),
    Operation("GetPrincipalTagAttributeMap", get_principal_tag_attribute_map),
    Operation("ListIdentities", list_identities),
    Operation("ListIdentityPools", list_identity_pools),
    Operation("ListTagsForResource", list_tags_for_resource, rate=10.0),
    Operation("LookupDeveloperIdentity", lookup_developer_identity),
    Operation("MergeDeveloperIdentities", merge_developer_identities),
    Operation("SetIdentityPoolRoles", set_identity_pool_roles),
    Operation("SetPrincipalTagAttributeMap", set_principal_tag_attribute_map),
    Operation("TagResource", tag_resource, rate=5.0),
    Operation("UnlinkDeveloperIdentity", unlink_developer_identity),
    Operation("UnlinkIdentity", unlink_identity, service_key=RateKey.UNLINK),
    Operation("UntagResource", untag_resource, rate=5.0),
    Operation("UpdateIdentityPool", update_identity_pool),
)
OPERATIONS: Mapping[str, Operation] = {row.name: row for row in _ROWS}


def published_rates() -> dict[str, float]:
    """AWS's published quotas by rate key, for the throttle."""
    return {row.rate_key: row.rate for row in _ROWS if row.rate is not None}
