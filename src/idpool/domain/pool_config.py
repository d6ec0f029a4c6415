"""A pool's configuration in the API's own shape: the one mapping between JSON and records.

Every place that reads or writes a pool's configuration goes through this module: the wire
(CreateIdentityPool/UpdateIdentityPool input, the IdentityPool output), seed files (written in
CreateIdentityPool's shape), and the store (its `pools.config` document is the same shape).
A new pool setting is one row of `POOL_FIELDS` plus its attribute on `Pool` and `PoolSpec`;
see docs/architecture.md, "Adding a pool setting".

Values reaching `spec_from_shape` have passed the model's constraint checker (wire, seeds) or
were written by `pool_document` (store), so members are present and typed; a JSON null is the
same as an absent member, as everywhere on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from idpool.domain.records import CognitoProvider, MappingRule, Pool, PrincipalTagMap, RoleMapping

JsonDoc = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """The configurable part of a pool, as CreateIdentityPool and UpdateIdentityPool take it.

    None means the member was absent (UpdateIdentityPool gives that a meaning for two members).
    """

    name: str
    allow_unauthenticated: bool
    allow_classic_flow: bool | None = None
    supported_login_providers: Mapping[str, str] | None = None
    developer_provider_name: str | None = None
    open_id_connect_provider_arns: Sequence[str] | None = None
    cognito_identity_providers: Sequence[CognitoProvider] | None = None
    saml_provider_arns: Sequence[str] | None = None
    tags: Mapping[str, str] | None = None


def _cognito_provider_in(item: JsonDoc) -> CognitoProvider:
    return CognitoProvider(
        provider_name=item.get("ProviderName") or "",
        client_id=item.get("ClientId"),
        server_side_token_check=bool(item.get("ServerSideTokenCheck", False)),
    )


def _cognito_provider_out(provider: CognitoProvider) -> dict[str, Any]:
    out: dict[str, Any] = {"ProviderName": provider.provider_name}
    if provider.client_id is not None:
        out["ClientId"] = provider.client_id
    out["ServerSideTokenCheck"] = provider.server_side_token_check
    return out


@dataclass(frozen=True, slots=True)
class PoolField:
    """One configurable member: its API name, its attribute, and how each side reads the other.

    `decode` turns the API value into the `PoolSpec` value; `empty` is what `Pool` holds when
    the member is absent; `encode` turns the `Pool` value back into the API value. A member is
    written only when set (not None, not empty), except `always` ones (AWS always sends them).
    """

    member: str
    attr: str
    decode: Callable[[Any], Any]
    encode: Callable[[Any], Any]
    empty: Callable[[], Any] = lambda: None
    always: bool = False


def _same(value: Any) -> Any:
    return value


POOL_FIELDS: tuple[PoolField, ...] = (
    PoolField("IdentityPoolName", "name", str, _same, always=True),
    PoolField("AllowUnauthenticatedIdentities", "allow_unauthenticated", bool, _same, always=True),
    PoolField("AllowClassicFlow", "allow_classic_flow", bool, _same),
    PoolField("SupportedLoginProviders", "supported_login_providers", dict, dict, dict),
    PoolField("DeveloperProviderName", "developer_provider_name", str, _same),
    PoolField("OpenIdConnectProviderARNs", "open_id_connect_provider_arns", tuple, list, tuple),
    PoolField(
        "CognitoIdentityProviders",
        "cognito_identity_providers",
        lambda items: tuple(_cognito_provider_in(item) for item in items),
        lambda providers: [_cognito_provider_out(p) for p in providers],
        tuple,
    ),
    PoolField("SamlProviderARNs", "saml_provider_arns", tuple, list, tuple),
    PoolField("IdentityPoolTags", "tags", dict, dict, dict, always=True),
)
"""In the model's member order of CreateIdentityPool's input (tags last)."""


def spec_from_shape(doc: JsonDoc) -> PoolSpec:
    """CreateIdentityPool's (or UpdateIdentityPool's) input members as a PoolSpec."""
    values = {
        field.attr: field.decode(doc[field.member])
        for field in POOL_FIELDS
        if doc.get(field.member) is not None
    }
    return PoolSpec(**values)


def configure(pool: Pool, spec: PoolSpec) -> Pool:
    """`pool` with every configurable member taken from `spec` (absent members emptied)."""
    values = {}
    for field in POOL_FIELDS:
        value = getattr(spec, field.attr)
        if value is None:
            values[field.attr] = field.empty()
        elif isinstance(value, Mapping):
            values[field.attr] = dict(value)
        elif isinstance(value, list | tuple):
            values[field.attr] = tuple(value)
        else:
            values[field.attr] = value
    return replace(pool, **values)


def config_shape(pool: Pool) -> dict[str, Any]:
    """The pool's configurable members in the API's shape, unset optional ones left out."""
    out: dict[str, Any] = {}
    for field in POOL_FIELDS:
        value = getattr(pool, field.attr)
        if field.always or (value is not None and value != field.empty()):
            out[field.member] = field.encode(value)
    return out


def pool_shape(pool: Pool) -> dict[str, Any]:
    """The IdentityPool output shape (CreateIdentityPool, DescribeIdentityPool, Update...)."""
    return {"IdentityPoolId": pool.pool_id, **config_shape(pool)}


# --- roles and principal-tag maps ----------------------------------------------------------------


def role_mapping_from_shape(raw: JsonDoc) -> RoleMapping:
    """A RoleMapping structure of SetIdentityPoolRoles."""
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


def role_mapping_shape(mapping: RoleMapping) -> dict[str, Any]:
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


def role_mappings_from_shape(raw: Mapping[str, JsonDoc] | None) -> dict[str, RoleMapping] | None:
    return None if raw is None else {key: role_mapping_from_shape(m) for key, m in raw.items()}


def tag_map_from_shape(raw: JsonDoc) -> PrincipalTagMap:
    """SetPrincipalTagAttributeMap's UseDefaults and PrincipalTags."""
    return PrincipalTagMap(raw.get("UseDefaults"), dict(raw.get("PrincipalTags") or {}))


def tag_map_shape(entry: PrincipalTagMap) -> dict[str, Any]:
    out: dict[str, Any] = {"PrincipalTags": dict(entry.tags)}
    if entry.use_defaults is not None:
        out["UseDefaults"] = entry.use_defaults
    return out


# --- the stored document ------------------------------------------------------------------------

_ROLES = "Roles"
_ROLE_MAPPINGS = "RoleMappings"
_TAG_MAPS = "PrincipalTagMaps"


def pool_document(pool: Pool) -> dict[str, Any]:
    """Everything configured on a pool but its name, as the store keeps it (API shape)."""
    doc = config_shape(pool)
    del doc["IdentityPoolName"]  # a column of its own
    doc[_ROLES] = dict(pool.roles)
    doc[_ROLE_MAPPINGS] = {k: role_mapping_shape(m) for k, m in pool.role_mappings.items()}
    doc[_TAG_MAPS] = {k: tag_map_shape(t) for k, t in pool.principal_tag_maps.items()}
    return doc


def pool_from_document(pool: Pool, doc: JsonDoc) -> Pool:
    """`pool` (ids, name, times) with the configuration `pool_document` wrote."""
    spec = spec_from_shape({**doc, "IdentityPoolName": pool.name})
    return replace(
        configure(pool, spec),
        roles=dict(doc.get(_ROLES) or {}),
        role_mappings=role_mappings_from_shape(doc.get(_ROLE_MAPPINGS)) or {},
        principal_tag_maps={
            key: tag_map_from_shape(t) for key, t in (doc.get(_TAG_MAPS) or {}).items()
        },
    )
