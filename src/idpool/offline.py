"""Work on the database without a server: applying a seed file, rotating the signing key.

The CLI's `seed` and `keys rotate` (and `serve --seed-file`, before the server starts) run
these; they build only what they need from the same factories as the server (factories.py).
"""

from __future__ import annotations

import asyncio

from idpool.config import Settings
from idpool.domain.records import Pool
from idpool.factories import key_secret, providers_config, quotas, resolve_key_secret
from idpool.seed import Seed, apply_seed
from idpool.service.context import PoolDeps
from idpool.service.facade import PoolAdministration
from idpool.service.system import RandomIds, SystemClock
from idpool.signing.keyring import Keyring
from idpool.storage.dialects import make_source
from idpool.storage.keys import SqlKeyStore
from idpool.storage.sql import SqlStore


def apply_seed_to_database(settings: Settings, seed: Seed) -> list[Pool]:
    """Apply a loaded seed file to the database before the server starts (idempotent)."""

    async def run() -> list[Pool]:
        store = SqlStore(make_source(settings.database_url, timeout=settings.db_timeout_seconds))
        try:
            deps = PoolDeps(
                store=store,
                clock=SystemClock(),
                ids=RandomIds(),
                default_region=settings.region,
                oidc_provider_configured=providers_config(settings, seed).registers_oidc_provider,
                quotas=quotas(settings),
            )
            return await apply_seed(PoolAdministration(deps), seed, settings.region)
        finally:
            await store.close()

    return asyncio.run(run())


async def ensure_signing_key(settings: Settings) -> list[str]:
    """Create the key secret and the first signing key before `--workers` are forked.

    Workers could race for both: the key store settles the signing key's race, but two
    workers generating the default key secret file at once could each keep a different one.
    Returns the notes for the start-up line.
    """
    secret = resolve_key_secret(settings)
    store = SqlStore(make_source(settings.database_url, timeout=settings.db_timeout_seconds))
    try:
        keyring = await Keyring.open(
            SqlKeyStore(store), secret.value, SystemClock().now, settings.region
        )
    finally:
        await store.close()
    notes = [f"key secret generated into {secret.path}"] if secret.created else []
    if keyring.created_kid is not None:
        notes.append(f"signing key {keyring.created_kid} created")
    return notes


async def rotate_keys(settings: Settings) -> str:
    """Make a new active signing key; the old one stays published until its tokens expire."""
    store = SqlStore(make_source(settings.database_url, timeout=settings.db_timeout_seconds))
    try:
        clock = SystemClock()
        keyring = await Keyring.open(
            SqlKeyStore(store), key_secret(settings), clock.now, settings.region
        )
        return await keyring.rotate()
    finally:
        await store.close()
