"""The pieces the composition root builds, one small factory each, from Settings.

`app.py` calls them in order when the server starts; `offline.py` calls the few it needs to
work on the database without a server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from idpool.config import Settings, data_dir
from idpool.domain.ports import CredentialVendor
from idpool.providers.config import ProvidersConfig, load_providers_config
from idpool.providers.reload import read_providers_file
from idpool.seed import Seed
from idpool.server.throttle import DEFAULT_RATES, TokenBucketThrottle
from idpool.service.context import Quotas
from idpool.service.role_policy import RolePolicy, RolesFileError, load_role_policy
from idpool.storage.dialects import is_sqlite, make_source
from idpool.storage.sql import SqlStore
from idpool.vending.local import LocalCredentialVendor
from idpool.vending.sealed import CredentialSealer
from idpool.vending.sts import StsCredentialVendor
from idpool.wire.model import operation_names, public_operations


def key_secret(settings: Settings) -> str:
    """The configured key secret, or one generated once into the data directory."""
    if settings.key_secret:
        return settings.key_secret
    path = data_dir() / "key-secret"
    if is_sqlite(settings.database_url):
        db_dir = Path(settings.database_url.split("///", 1)[-1]).parent
        path = db_dir / "key-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


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


def request_throttle(settings: Settings, now: Callable[[], float]) -> TokenBucketThrottle | None:
    if not settings.throttle:
        return None
    return TokenBucketThrottle(DEFAULT_RATES, clock=now, replica_share=settings.replicas)


def quotas(settings: Settings) -> Quotas:
    return Quotas(user_pool_providers_per_pool=settings.user_pool_providers_per_pool)
