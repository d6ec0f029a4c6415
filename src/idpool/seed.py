"""Seed files: a declarative YAML description of accounts, pools, roles and providers.

Applying a seed is idempotent: pools are matched by their fixed `id` (so app configs can
hard-code it) or, without one, by name within the account, and brought to the declared state
on every start. Mistakes are reported with the file and line they are on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from idpool.domain.ids import DEFAULT_ACCOUNT, is_region_uuid
from idpool.domain.records import Caller, CognitoProvider, MappingRule, Pool, RoleMapping
from idpool.service.facade import PoolAdministration
from idpool.service.pools import PoolSpec


class SeedError(ValueError):
    """A seed file that cannot be applied; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class SeedAccount:
    access_key_id: str
    secret_access_key: str
    account_id: str


@dataclass(frozen=True, slots=True)
class SeedPool:
    account_id: str
    region: str | None
    pool_id: str | None
    spec: PoolSpec
    roles: Mapping[str, str] | None
    role_mappings: Mapping[str, RoleMapping] | None
    principal_tags: Mapping[str, tuple[bool | None, Mapping[str, str]]]
    line: int


@dataclass(frozen=True, slots=True)
class Seed:
    accounts: tuple[SeedAccount, ...] = ()
    pools: tuple[SeedPool, ...] = ()
    providers: Mapping[str, Any] = field(default_factory=dict)


_POOL_KEYS = {
    "id",
    "account_id",
    "region",
    "name",
    "allow_unauthenticated",
    "allow_classic_flow",
    "supported_login_providers",
    "developer_provider_name",
    "open_id_connect_provider_arns",
    "cognito_identity_providers",
    "saml_provider_arns",
    "tags",
    "roles",
    "role_mappings",
    "principal_tags",
}
_TOP_KEYS = {"accounts", "pools", "providers"}


class _Reader:
    """Walks the YAML node tree so that every error can point at a line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: yaml.Node, message: str) -> SeedError:
        return SeedError(f"{self.path}:{node.start_mark.line + 1}: {message}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, f"keys of {what} must be strings")
            out[str(key.value)] = value
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def value(self, node: yaml.Node) -> Any:
        return yaml.safe_load(yaml.serialize(node))

    def string(self, node: yaml.Node, what: str) -> str:
        value = self.value(node)
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self.fail(node, f"{what} must be a string")
        return str(value)

    def boolean(self, node: yaml.Node, what: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.fail(node, f"{what} must be true or false")
        return value

    def str_map(self, node: yaml.Node, what: str) -> dict[str, str]:
        return {k: self.string(v, f"{what}.{k}") for k, v in self.mapping(node, what).items()}

    def str_list(self, node: yaml.Node, what: str) -> list[str]:
        return [self.string(item, f"{what} item") for item in self.sequence(node, what)]


def _opt(fields: Mapping[str, yaml.Node], key: str, convert: Any) -> Any:
    """convert(node, key) when the key is present, else None."""
    return convert(fields[key], key) if key in fields else None


def _pool(reader: _Reader, node: yaml.Node) -> SeedPool:
    fields = reader.mapping(node, "a pool")
    unknown = set(fields) - _POOL_KEYS
    if unknown:
        raise reader.fail(node, f"unknown pool setting(s): {', '.join(sorted(unknown))}")
    for required in ("name", "allow_unauthenticated"):
        if required not in fields:
            raise reader.fail(node, f"a pool needs '{required}'")
    pool_id = _opt(fields, "id", reader.string)
    if pool_id is not None and not is_region_uuid(pool_id):
        raise reader.fail(fields["id"], "id must look like <region>:<uuid>")
    providers = None
    if "cognito_identity_providers" in fields:
        providers = []
        for item in reader.sequence(
            fields["cognito_identity_providers"], "cognito_identity_providers"
        ):
            entry = reader.mapping(item, "a cognito identity provider")
            if "provider_name" not in entry:
                raise reader.fail(item, "a cognito identity provider needs 'provider_name'")
            providers.append(
                CognitoProvider(
                    provider_name=reader.string(entry["provider_name"], "provider_name"),
                    client_id=_opt(entry, "client_id", reader.string),
                    server_side_token_check=reader.boolean(
                        entry["server_side_token_check"], "server_side_token_check"
                    )
                    if "server_side_token_check" in entry
                    else False,
                )
            )
    spec = PoolSpec(
        name=reader.string(fields["name"], "name"),
        allow_unauthenticated=reader.boolean(
            fields["allow_unauthenticated"], "allow_unauthenticated"
        ),
        allow_classic_flow=_opt(fields, "allow_classic_flow", reader.boolean),
        supported_login_providers=_opt(fields, "supported_login_providers", reader.str_map),
        developer_provider_name=_opt(fields, "developer_provider_name", reader.string),
        open_id_connect_provider_arns=_opt(
            fields, "open_id_connect_provider_arns", reader.str_list
        ),
        cognito_identity_providers=providers,
        saml_provider_arns=_opt(fields, "saml_provider_arns", reader.str_list),
        tags=_opt(fields, "tags", reader.str_map),
    )
    mappings = None
    if "role_mappings" in fields:
        mappings = {}
        for key, raw in reader.mapping(fields["role_mappings"], "role_mappings").items():
            entry = reader.mapping(raw, f"role mapping {key}")
            if "type" not in entry:
                raise reader.fail(raw, f"role mapping {key} needs 'type' (Token or Rules)")
            rules = None
            if "rules" in entry:
                rules = []
                for rule_node in reader.sequence(entry["rules"], "rules"):
                    rule = reader.mapping(rule_node, "a rule")
                    missing = {"claim", "match_type", "value", "role_arn"} - set(rule)
                    if missing:
                        raise reader.fail(rule_node, f"a rule needs {', '.join(sorted(missing))}")
                    keys = ("claim", "match_type", "value", "role_arn")
                    rules.append(MappingRule(*(reader.string(rule[k], k) for k in keys)))
            mappings[key] = RoleMapping(
                type=reader.string(entry["type"], "type"),
                ambiguous_role_resolution=_opt(entry, "ambiguous_role_resolution", reader.string),
                rules=tuple(rules) if rules is not None else None,
            )
    principal_tags: dict[str, tuple[bool | None, Mapping[str, str]]] = {}
    if "principal_tags" in fields:
        for provider, raw in reader.mapping(fields["principal_tags"], "principal_tags").items():
            entry = reader.mapping(raw, f"principal tags of {provider}")
            use_defaults = _opt(entry, "use_defaults", reader.boolean)
            tags = reader.str_map(entry["tags"], "tags") if "tags" in entry else {}
            principal_tags[provider] = (use_defaults, tags)
    return SeedPool(
        account_id=_opt(fields, "account_id", reader.string) or DEFAULT_ACCOUNT,
        region=_opt(fields, "region", reader.string),
        pool_id=pool_id,
        spec=spec,
        roles=_opt(fields, "roles", reader.str_map),
        role_mappings=mappings,
        principal_tags=principal_tags,
        line=node.start_mark.line + 1,
    )


def load_seed(path: str) -> Seed:
    text = Path(path).read_text()
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise SeedError(f"{path}: not valid YAML: {exc}") from exc
    if root is None:
        return Seed()
    reader = _Reader(path)
    top = reader.mapping(root, "the seed file")
    unknown = set(top) - _TOP_KEYS
    if unknown:
        raise reader.fail(root, f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    accounts = []
    for node in reader.sequence(top["accounts"], "accounts") if "accounts" in top else []:
        entry = reader.mapping(node, "an account")
        missing = {"access_key_id", "secret_access_key", "account_id"} - set(entry)
        if missing:
            raise reader.fail(node, f"an account needs {', '.join(sorted(missing))}")
        account_id = reader.string(entry["account_id"], "account_id")
        if not (account_id.isdigit() and len(account_id) == 12):
            raise reader.fail(entry["account_id"], "account_id must be 12 digits (quote it)")
        accounts.append(
            SeedAccount(
                reader.string(entry["access_key_id"], "access_key_id"),
                reader.string(entry["secret_access_key"], "secret_access_key"),
                account_id,
            )
        )
    pools = (
        [_pool(reader, n) for n in reader.sequence(top["pools"], "pools")] if "pools" in top else []
    )
    providers = reader.value(top["providers"]) if "providers" in top else {}
    if not isinstance(providers, dict):
        raise reader.fail(top["providers"], "providers must be a mapping")
    return Seed(tuple(accounts), tuple(pools), providers)


async def apply_seed(service: PoolAdministration, seed: Seed, default_region: str) -> list[Pool]:
    """Create or update every declared pool; returns them in file order."""
    applied = []
    for entry in seed.pools:
        caller = Caller(account_id=entry.account_id, region=entry.region or default_region)
        try:
            pool = await _apply_pool(service, caller, entry)
        except Exception as exc:
            raise SeedError(f"pool at line {entry.line}: {exc}") from exc
        applied.append(pool)
    return applied


async def _apply_pool(service: PoolAdministration, caller: Caller, entry: SeedPool) -> Pool:
    pool_id = entry.pool_id
    if pool_id is None:
        page = await service.pools.list_page(caller, 60, None)
        while True:
            match = next((p for p in page.items if p.name == entry.spec.name), None)
            if match is not None or page.next_token is None:
                break
            page = await service.pools.list_page(caller, 60, page.next_token)
        pool_id = match.pool_id if match is not None else None
    if pool_id is None:
        pool = await service.pools.create(caller, entry.spec)
    else:
        await service.pools.create_with_id(caller, entry.spec, pool_id)
        pool = await service.pools.update(caller, pool_id, entry.spec)
    if entry.roles is not None or entry.role_mappings is not None:
        await service.roles.set_roles(caller, pool.pool_id, entry.roles or {}, entry.role_mappings)
    for provider, (use_defaults, tags) in entry.principal_tags.items():
        await service.pools.set_principal_tags(caller, pool.pool_id, provider, use_defaults, tags)
    return await service.pools.describe(caller, pool.pool_id)
