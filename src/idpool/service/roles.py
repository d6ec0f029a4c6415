"""Roles: Set/GetIdentityPoolRoles checks and the pure role-selection rules of the enhanced flow.

The evaluator is a pure function of the pool, the verified logins and CustomRoleArn so that
every case of AWS's role-based access control (Cognito Developer Guide, "Role-based access
control"; idpool's choices in docs/compatibility.md, "Roles") can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from idpool.domain.errors import (
    INVALID_POOL_CONFIG,
    InvalidIdentityPoolConfigurationException,
    InvalidParameterException,
    NotAuthorizedException,
)
from idpool.domain.ids import ROLE_ARN, SAML_ROLE_ATTRIBUTE, account_of_role, saml_role_pair
from idpool.domain.login_keys import role_mapping_keys
from idpool.domain.ports import Transaction
from idpool.domain.records import Caller, MappingRule, Pool, RoleMapping, VerifiedLogin
from idpool.service.context import PoolDeps, in_transaction
from idpool.service.pools import owned_pool


def check_roles(
    pool: Pool, roles: Mapping[str, str], mappings: Mapping[str, RoleMapping], max_rules: int | None
) -> None:
    for arn in roles.values():
        if not ROLE_ARN.fullmatch(arn):
            raise InvalidParameterException(f"Invalid role ARN: {arn}")
    allowed = role_mapping_keys(pool)
    for key, mapping in mappings.items():
        if key not in allowed:
            raise InvalidParameterException(
                f"{key} is not a valid RoleMapping ProviderName or is not a configured provider."
            )
        if mapping.ambiguous_role_resolution is None:
            raise InvalidParameterException(
                f"AmbiguousRoleResolution must be specified for the role mapping of {key}."
            )
        if mapping.type == "Token" and mapping.rules is not None:
            raise InvalidParameterException(
                f"RulesConfiguration can only be specified for Rules type role mappings ({key})."
            )
        if mapping.type == "Rules":
            if not mapping.rules:
                raise InvalidParameterException(
                    f"RulesConfiguration is required for Rules type role mappings ({key})."
                )
            if max_rules is not None and len(mapping.rules) > max_rules:
                raise InvalidParameterException(
                    f"A role mapping can have at most {max_rules} rules ({key})."
                )
            for rule in mapping.rules:
                if not ROLE_ARN.fullmatch(rule.role_arn):
                    raise InvalidParameterException(f"Invalid role ARN: {rule.role_arn}")


class RoleService:
    def __init__(self, deps: PoolDeps) -> None:
        self._d = deps

    async def set_roles(
        self,
        caller: Caller,
        pool_id: str,
        roles: Mapping[str, str],
        mappings: Mapping[str, RoleMapping] | None,
    ) -> None:
        """Replace roles and role mappings; omitted RoleMappings clears the stored ones."""

        async def work(tx: Transaction) -> None:
            pool = await owned_pool(tx, caller, pool_id, for_update=True)
            check_roles(pool, roles, mappings or {}, self._d.quotas.rules_per_role_mapping)
            await tx.update_pool(
                replace(
                    pool,
                    roles=dict(roles),
                    role_mappings=dict(mappings or {}),
                    version=pool.version + 1,
                )
            )

        try:
            await in_transaction(self._d.store, work)
        finally:
            self._d.pool_cache.forget(pool_id)

    async def get_roles(self, caller: Caller, pool_id: str) -> Pool:
        async def work(tx: Transaction) -> Pool:
            return await owned_pool(tx, caller, pool_id)

        return await in_transaction(self._d.store, work, readonly=True)


# --- role selection ---------------------------------------------------------------------------


def _claim_values(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        else:
            out.append(orjson.dumps(item).decode())
    return out


def rule_matches(rule: MappingRule, claims: Mapping[str, Any]) -> bool:
    """One rule against one token's claims; a missing claim never matches (NotEqual included)."""
    if rule.claim not in claims:
        return False
    values = _claim_values(claims[rule.claim])
    if not values:
        return False
    match rule.match_type:
        case "Equals":
            return any(v == rule.value for v in values)
        case "NotEqual":
            return all(v != rule.value for v in values)
        case "StartsWith":
            return any(v.startswith(rule.value) for v in values)
        case "Contains":
            return any(rule.value in v for v in values)
    return False


def _token_roles(claims: Mapping[str, Any]) -> list[str]:
    raw = claims.get("cognito:roles")
    if isinstance(raw, str):
        return [r.strip() for r in raw.split(",") if r.strip()]
    return [r for r in raw if isinstance(r, str)] if isinstance(raw, list) else []


def _saml_roles(pool: Pool, login: VerifiedLogin) -> list[str] | None:
    """The assertion's roles this login may assume: pairs naming the provider it was presented
    under and a role of the pool's account. None when the assertion names no role at all."""
    values = _claim_values(login.claims.get(SAML_ROLE_ATTRIBUTE))
    if not values:
        return None
    pairs = [pair for pair in map(saml_role_pair, values) if pair is not None]
    return [
        role
        for role, provider in pairs
        if provider == login.provider and account_of_role(role) == pool.account_id
    ]


@dataclass(frozen=True, slots=True)
class RoleChoice:
    """The role a GetCredentialsForIdentity call assumes, and the rule that chose it.

    `rule` is one of RULES; `mapping` is the RoleMappings key (or SAML provider) the rule
    belongs to; `rule_index` is the 1-based position of the matching Rules rule. The audit
    trail keeps `detail()`, which `from_detail` reads back for the console.
    """

    role_arn: str
    rule: str
    mapping: str | None = None
    rule_index: int | None = None

    def describe(self) -> str:
        """One line an operator reads: which rule, of which mapping."""
        where = f" of {self.mapping}" if self.mapping else ""
        match self.rule:
            case "rules":
                return f"Rules mapping{where}, rule {self.rule_index}"
            case "custom":
                at = f", rule {self.rule_index}" if self.rule_index else ""
                return f"CustomRoleArn, allowed by the mapping{where}{at}"
            case "custom_saml":
                return f"CustomRoleArn, among the roles of the SAML assertion{where}"
            case "saml":
                return f"the only role of the SAML assertion{where}"
            case "token":
                return f"Token mapping{where} (cognito:preferred_role)"
            case "ambiguous":
                return (
                    f"no rule matched the mapping{where}: AmbiguousRoleResolution AuthenticatedRole"
                )
            case "unauthenticated":
                return "default unauthenticated role"
        return "default authenticated role"

    def detail(self) -> str:
        return f"{self.role_arn}{DETAIL_SEPARATOR}{self.describe()}"

    @staticmethod
    def split_detail(detail: str) -> tuple[str, str]:
        """(role, reason) of a `credentials` audit event's detail (what `detail()` wrote)."""
        role, _, reason = detail.partition(DETAIL_SEPARATOR)
        return role, reason


RULES = (
    "unauthenticated",
    "default",
    "token",
    "rules",
    "custom",
    "custom_saml",
    "saml",
    "ambiguous",
)
DETAIL_SEPARATOR = " · "


def _default(pool: Pool, key: str) -> RoleChoice:
    role = pool.roles.get(key)
    if not role:
        raise InvalidIdentityPoolConfigurationException(INVALID_POOL_CONFIG)
    return RoleChoice(role, "unauthenticated" if key == "unauthenticated" else "default")


def _ambiguous(pool: Pool, mapping: RoleMapping, key: str) -> RoleChoice:
    if mapping.ambiguous_role_resolution == "Deny":
        raise NotAuthorizedException(
            f"The ambiguous role mapping rules for: {key} denied this request."
        )
    return replace(_default(pool, "authenticated"), rule="ambiguous", mapping=key)


def choose_role(
    pool: Pool,
    authenticated: bool,
    logins: Sequence[VerifiedLogin],
    custom_role_arn: str | None,
) -> RoleChoice:
    """The role AWS would assume for this request (docs/compatibility.md, "Roles"), and why."""
    if not authenticated:
        return _default(pool, "unauthenticated")
    for login in logins:
        if login.provider in pool.saml_provider_arns and login.provider not in pool.role_mappings:
            roles = _saml_roles(pool, login)
            if roles is not None:
                if custom_role_arn:
                    if custom_role_arn in roles:
                        return RoleChoice(custom_role_arn, "custom_saml", login.provider)
                    raise NotAuthorizedException(
                        f"The role '{custom_role_arn}' is not among the roles of the assertion."
                    )
                if len(roles) == 1:
                    return RoleChoice(roles[0], "saml", login.provider)
                # AWS: with several roles in the assertion the client chooses (CustomRoleArn).
                raise NotAuthorizedException(
                    f"The assertion has {len(roles)} roles for {login.provider} in this "
                    "account; choose one with CustomRoleArn."
                    if roles
                    else f"The assertion has no role for {login.provider} in this account."
                )
        # The verifier names the RoleMappings key (providers/targets.py: login_of).
        key = login.mapping_key or login.provider
        mapping = pool.role_mappings.get(key)
        if mapping is None:
            continue
        if mapping.type == "Token":
            roles = _token_roles(login.claims)
            if custom_role_arn:
                if custom_role_arn in roles:
                    return RoleChoice(custom_role_arn, "custom", key)
                raise NotAuthorizedException(
                    f"The role '{custom_role_arn}' is not among the roles of the token."
                )
            preferred = login.claims.get("cognito:preferred_role")
            if isinstance(preferred, str) and preferred:
                return RoleChoice(preferred, "token", key)
            return _ambiguous(pool, mapping, key)
        matching = [
            (index, r)
            for index, r in enumerate(mapping.rules or (), start=1)
            if rule_matches(r, login.claims)
        ]
        if matching:
            for index, rule in matching:
                if custom_role_arn and rule.role_arn == custom_role_arn:
                    return RoleChoice(custom_role_arn, "custom", key, index)
            index, rule = matching[0]
            return RoleChoice(rule.role_arn, "rules", key, index)
        return _ambiguous(pool, mapping, key)
    return _default(pool, "authenticated")
