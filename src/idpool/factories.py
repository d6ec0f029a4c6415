"""The pieces the composition root builds, one small factory each, from Settings.

`app.py` calls them in order when the server starts; `offline.py` calls the few it needs to
work on the database without a server.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from idpool.config import ConfigError, Settings, default_key_secret_file
from idpool.domain.ports import CredentialVendor
from idpool.files import readable_by_others, write_private_file_once
from idpool.providers.config import ProvidersConfig, ProvidersConfigError, load_providers_config
from idpool.providers.reload import ProvidersFileError, read_providers_file
from idpool.seed import Seed
from idpool.server.throttle import DEFAULT_RATES, SharedBuckets, TokenBucketThrottle
from idpool.service.context import Quotas
from idpool.service.role_policy import RolePolicy, RolesFileError, load_role_policy
from idpool.storage.dialects import is_sqlite, make_source
from idpool.storage.sql import SqlStore
from idpool.vending.local import LocalCredentialVendor
from idpool.vending.sealed import CredentialSealer
from idpool.vending.sts import StsCredentialVendor
from idpool.wire.model import operation_names, public_operations

log = logging.getLogger("idpool")


@dataclass(frozen=True)
class KeySecret:
    """The secret that seals the signing keys, and where it came from."""

    value: str
    path: Path | None = None  # None: given by --key-secret / IDPOOL_KEY_SECRET
    created: bool = False


def sqlite_path(database_url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    if not is_sqlite(database_url):
        return None
    database = make_url(database_url).database
    return Path(database).resolve() if database and database != ":memory:" else None


def key_secret_path(settings: Settings) -> Path:
    """Where the generated key secret is: `default_key_secret_file()`, apart from the database.

    A `key-secret` that an older idpool generated beside a SQLite database is still used for
    that database (its keys are sealed with it), with a warning at every start.
    """
    default = default_key_secret_file()
    database = sqlite_path(settings.database_url)
    if database is not None and (database.parent / default.name).exists():
        return database.parent / default.name
    return default


def resolve_key_secret(settings: Settings) -> KeySecret:
    """The configured key secret, or the one generated once (mode 0600) into its file."""
    if settings.key_secret:
        return KeySecret(settings.key_secret)
    path = key_secret_path(settings)
    created = False
    try:
        if not path.exists():
            created = write_private_file_once(path, secrets.token_urlsafe(32))
        value = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(
            f"cannot {'read' if path.exists() else 'create'} the key secret {path}: "
            f"{exc.strerror or exc} (or pass --key-secret)"
        ) from None
    if not value:
        raise ConfigError(f"the key secret file {path} is empty: delete it or pass --key-secret")
    database = sqlite_path(settings.database_url)
    if database is not None and database.parent == path.parent.resolve():
        log.warning(
            "the key secret %s is in the database's directory, so a copy of that directory "
            "can decrypt the signing keys: move it to %s or pass --key-secret",
            path,
            default_key_secret_file(),
        )
    return KeySecret(value, path, created)


def key_secret(settings: Settings) -> str:
    return resolve_key_secret(settings).value


def warn_about_file_modes(settings: Settings) -> None:
    """A SQLite database made by an older idpool (or by hand) may be readable by others."""
    database = sqlite_path(settings.database_url)
    if database is not None and readable_by_others(database):
        log.warning(
            "the database %s is readable by other users: chmod 600 it (and its -wal, -shm files)",
            database,
        )


def role_policy(settings: Settings) -> RolePolicy:
    """The operator's roles file (`--roles-file`); without one no role may call admin ops."""
    if not settings.roles_file:
        return RolePolicy()
    import yaml

    path = settings.roles_file
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return load_role_policy(document, frozenset(operation_names()) - public_operations())
    except (OSError, yaml.YAMLError, RolesFileError) as error:
        raise RolesFileError(f"{path}: {error}") from error


def providers_config(settings: Settings, seed: Seed | None) -> ProvidersConfig:
    """The providers file merged with a seed file's `providers` section (the file wins)."""
    raw: dict[str, Any] = dict(seed.providers) if seed is not None else {}
    if settings.providers_file:
        raw.update(read_providers_file(settings.providers_file))
    if settings.trust_mode:
        raw["trust_mode"] = True
    if settings.user_pool_endpoint:
        raw["user_pool_endpoint"] = settings.user_pool_endpoint
    return load_providers_config(raw)


def startup_providers_config(settings: Settings, seed: Seed | None) -> ProvidersConfig:
    """`providers_config` at start-up, where a bad file is one line and no server (a reload
    keeps the running configuration instead)."""
    try:
        return providers_config(settings, seed)
    except ProvidersFileError as exc:
        raise ConfigError(str(exc)) from None
    except ProvidersConfigError as exc:
        where = settings.providers_file or "the seed file's providers section"
        raise ConfigError(f"{where}: {exc}") from None


def open_store(settings: Settings) -> SqlStore:
    return SqlStore(
        make_source(
            settings.database_url,
            pool_size=settings.db_pool_size,
            timeout=settings.db_timeout_seconds,
        )
    )


def signing_pool() -> ThreadPoolExecutor | None:
    """RSA signing releases the GIL: with more than one core, sign on a thread per core;
    pinned to one core, signing inline avoids a pointless thread hop."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return ThreadPoolExecutor(cpus, "idpool-sign") if cpus > 1 else None


def credential_vendor(
    settings: Settings, now: Callable[[], float], sealer: CredentialSealer
) -> CredentialVendor:
    if settings.credential_mode == "sts":
        return StsCredentialVendor(endpoint_url=settings.sts_endpoint, region=settings.region)
    return LocalCredentialVendor(clock=now, sealer=sealer)


def request_throttle(
    settings: Settings, now: Callable[[], float], shared: SharedBuckets | None = None
) -> TokenBucketThrottle | None:
    """AWS's quotas, this replica's share; `shared`: buckets shared by the --workers."""
    if not settings.throttle:
        return None
    return TokenBucketThrottle(
        DEFAULT_RATES, clock=now, replica_share=settings.replicas, shared=shared
    )


def quotas(settings: Settings) -> Quotas:
    return Quotas(user_pool_providers_per_pool=settings.user_pool_providers_per_pool)
