"""Seed files: a declarative YAML description of accounts, pools, roles and providers.

A pool is written in the API's own shape: CreateIdentityPool's members, SetIdentityPoolRoles's
`Roles` and `RoleMappings`, and `PrincipalTags` (per provider, SetPrincipalTagAttributeMap's
`UseDefaults` and `PrincipalTags`), checked by the same model-compiled constraint checker as
a request and decoded by the same mapping (domain/pool_config.py); only `id`, `account_id`
and `region` are the seed's own.

Applying a seed is idempotent: pools are matched by their fixed `id` (so app configs can
hard-code it) or, without one, by name within the account, and brought to the declared state
on every start. Mistakes are reported with the file and line they are on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

from idpool.domain.errors import SerializationException
from idpool.domain.ids import DEFAULT_ACCOUNT, is_region_uuid
from idpool.domain.pool_config import (
    PoolSpec,
    role_mappings_from_shape,
    spec_from_shape,
    tag_map_from_shape,
)
from idpool.domain.records import Caller, Pool, PrincipalTagMap, RoleMapping
from idpool.service.facade import PoolAdministration
from idpool.wire.constraint_nodes import lower_camel
from idpool.wire.constraints import ConstraintChecker, validation_message
from idpool.wire.model import operation_model

T = TypeVar("T")


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
    principal_tags: Mapping[str, PrincipalTagMap]
    line: int


@dataclass(frozen=True, slots=True)
class Seed:
    accounts: tuple[SeedAccount, ...] = ()
    pools: tuple[SeedPool, ...] = ()
    providers: Mapping[str, Any] = field(default_factory=dict)


_SEED_KEYS = ("id", "account_id", "region")  # the seed's own; everything else is the API's
_ROLE_KEYS = ("Roles", "RoleMappings")  # SetIdentityPoolRoles's members
_TAG_MAPS = "PrincipalTags"  # provider name -> SetPrincipalTagAttributeMap's members
_TAG_MAP_KEYS = ("UseDefaults", "PrincipalTags")
_PLACEHOLDER_POOL = "us-east-1:00000000-0000-4000-8000-000000000000"
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


def _opt(
    fields: Mapping[str, yaml.Node], key: str, convert: Callable[[yaml.Node, str], T]
) -> T | None:
    """convert(node, key) when the key is present, else None."""
    return convert(fields[key], key) if key in fields else None


@cache
def _checker(operation: str) -> ConstraintChecker:
    return ConstraintChecker(operation_model(operation))


@cache
def _members(operation: str) -> tuple[str, ...]:
    shape = operation_model(operation).input_shape
    return tuple(shape.members) if shape is not None else ()


def _checked(
    reader: _Reader,
    node: yaml.Node,
    fields: Mapping[str, yaml.Node],
    operation: str,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """The members in `fields`, checked against `operation`'s input shape as a request would be.

    `context` supplies required members the seed does not spell out (the pool id). A violation
    is reported at the line of the member it names, in the ValidationException's own words.
    """
    doc = {key: reader.value(value) for key, value in fields.items()}
    checker = _checker(operation)
    try:
        clauses = checker.check({**context, **doc})
    except SerializationException as exc:
        for key, value in doc.items():  # the first member that alone fails to deserialize
            try:
                checker.check({**context, key: value})
            except SerializationException:
                hint = " (quote it)" if exc.message.endswith("to a String") else ""
                raise reader.fail(fields[key], f"{key}: {exc.message}{hint}") from None
        raise reader.fail(node, exc.message) from None
    if clauses:
        path = clauses[0].split(" at '", 1)[1].split("'", 1)[0].split(".", 1)[0]
        named = next((key for key in fields if lower_camel(key) == path), None)
        raise reader.fail(fields[named] if named else node, validation_message(clauses))
    return doc


def _pool(reader: _Reader, node: yaml.Node) -> SeedPool:
    fields = reader.mapping(node, "a pool")
    create = _members("CreateIdentityPool")
    unknown = set(fields) - {*_SEED_KEYS, *create, *_ROLE_KEYS, _TAG_MAPS}
    if unknown:
        raise reader.fail(
            node,
            f"unknown pool setting(s): {', '.join(sorted(unknown))} (a pool takes "
            f"{', '.join(_SEED_KEYS)}, CreateIdentityPool's members, "
            f"{', '.join(_ROLE_KEYS)} and {_TAG_MAPS}; see docs/configuration.md)",
        )
    required = operation_model("CreateIdentityPool").input_shape.required_members
    for member in required:
        if member not in fields:
            raise reader.fail(node, f"a pool needs '{member}'")
    pool_id = _opt(fields, "id", reader.string)
    if pool_id is not None and not is_region_uuid(pool_id):
        raise reader.fail(fields["id"], "id must look like <region>:<uuid>")
    context = {"IdentityPoolId": pool_id or _PLACEHOLDER_POOL}
    pool_fields = {k: v for k, v in fields.items() if k in create}
    spec = spec_from_shape(_checked(reader, node, pool_fields, "CreateIdentityPool", {}))
    roles = mappings = None
    role_fields = {k: v for k, v in fields.items() if k in _ROLE_KEYS}
    if role_fields:
        doc = _checked(reader, node, role_fields, "SetIdentityPoolRoles", {**context, "Roles": {}})
        roles = doc.get("Roles")
        mappings = role_mappings_from_shape(doc.get("RoleMappings"))
    principal_tags: dict[str, PrincipalTagMap] = {}
    if _TAG_MAPS in fields:
        for provider, raw in reader.mapping(fields[_TAG_MAPS], _TAG_MAPS).items():
            entry = reader.mapping(raw, f"principal tags of {provider}")
            extra = set(entry) - set(_TAG_MAP_KEYS)
            if extra:
                raise reader.fail(raw, f"unknown setting(s): {', '.join(sorted(extra))}")
            where = {**context, "IdentityProviderName": provider}
            doc = _checked(reader, raw, entry, "SetPrincipalTagAttributeMap", where)
            principal_tags[provider] = tag_map_from_shape(doc)
    return SeedPool(
        account_id=_opt(fields, "account_id", reader.string) or DEFAULT_ACCOUNT,
        region=_opt(fields, "region", reader.string),
        pool_id=pool_id,
        spec=spec,
        roles=roles,
        role_mappings=mappings,
        principal_tags=principal_tags,
        line=node.start_mark.line + 1,
    )


def load_seed(path: str) -> Seed:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SeedError(f"cannot read the seed file {path}: {exc.strerror or exc}") from None
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
    for provider, tag_map in entry.principal_tags.items():
        await service.pools.set_principal_tags(
            caller, pool.pool_id, provider, tag_map.use_defaults, tag_map.tags
        )
    return await service.pools.describe(caller, pool.pool_id)
