"""Composition root: the only module that knows every concrete adapter.

Builds the store, the signing keyring, the login verifiers, the credential vendor, the
service and the HTTP edge from Settings. The server's own event loop opens the store and
the keyring (lifespan start-up), because PostgreSQL connections belong to that loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from idpool.auth.principals import PrincipalDirectory, load_principals
from idpool.auth.sessions import SessionLiveness
from idpool.auth.sigv4 import SigV4Verifier
from idpool.config import Settings, data_dir
from idpool.domain.records import Caller, Pool
from idpool.logging_setup import enable_access_log
from idpool.providers.config import ProvidersConfig, build_login_verifier, load_providers_config
from idpool.providers.reload import ReloadingLoginVerifier, read_providers_file
from idpool.seed import Seed, apply_seed, load_seed
from idpool.server.asgi import EdgeSettings, IdpoolApp, WellKnown
from idpool.server.console import build_console
from idpool.server.gateway import GatewayAuth
from idpool.server.metrics import Metrics
from idpool.server.pipeline import ApiPipeline
from idpool.server.sts import StsEndpoint
from idpool.server.throttle import DEFAULT_RATES, TokenBucketThrottle
from idpool.service.admin import AdminQueries
from idpool.service.context import PoolDeps, Quotas, ServiceDeps
from idpool.service.facade import IdentityPoolService, PoolAdministration
from idpool.service.role_policy import RolePolicy, RolesFileError, load_role_policy
from idpool.service.sts import StsService
from idpool.service.system import RandomIds, SystemClock
from idpool.signing.discovery import openid_configuration
from idpool.signing.jwt import JwtTokenSigner, OwnTokenVerifier
from idpool.signing.keyring import Keyring
from idpool.storage.dialects import is_sqlite, make_source
from idpool.storage.keys import SqlKeyStore
from idpool.storage.migrate import ensure_current
from idpool.storage.sql import SqlStore
from idpool.vending.local import LocalCredentialVendor
from idpool.vending.sealed import CredentialSealer
from idpool.vending.sts import StsCredentialVendor
from idpool.wire.constraints import compile_checkers
from idpool.wire.model import operation_names, public_operations, service_model

log = logging.getLogger("idpool")

# How long /ready waits for the store: a probe must answer well within its own timeout.
READY_TIMEOUT = 1.0


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


def prepare_database(settings: Settings) -> None:
    """Migrate (or refuse an out-of-date schema) before the server starts."""
    migrate = settings.migrate
    if migrate is None:
        migrate = is_sqlite(settings.database_url)
    ensure_current(settings.database_url, migrate=migrate)


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


@dataclass
class Runtime:
    """What the lifespan start-up builds; kept so tests and the CLI can reach it."""

    store: SqlStore
    keyring: Keyring
    service: IdentityPoolService
    http: httpx.AsyncClient


class Application:
    """Settings → a ready ASGI app whose resources open and close with the server."""

    def __init__(
        self, settings: Settings, *, clock: SystemClock | None = None, seed: Seed | None = None
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.metrics = Metrics()
        if settings.access_log:
            enable_access_log()
        self.runtime: Runtime | None = None
        self._sign_pool: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sighup = False
        self.principals = (
            load_principals(settings.credentials_file)
            if settings.credentials_file
            else PrincipalDirectory([])
        )
        if seed is None and settings.seed_file:
            seed = load_seed(settings.seed_file)
        self.seed = seed
        if self.seed is not None:
            for account in self.seed.accounts:
                self.principals.add(
                    account.access_key_id, account.secret_access_key, account.account_id
                )
        self.issuer = settings.issuer_url or settings.base_url
        self.role_policy = role_policy(settings)
        self.asgi = IdpoolApp(
            None,
            settings=EdgeSettings(
                max_body_bytes=settings.max_body_bytes,
                body_timeout_seconds=settings.body_timeout_seconds,
                cors_origins=tuple(o.strip() for o in settings.cors_origins.split(",")),
            ),
            well_known=WellKnown(
                openid_configuration=self._openid_configuration,
                jwks=self._jwks,
                ready=self._ready,
            ),
            metrics=self.metrics,
            on_startup=self.startup,
            on_shutdown=self.shutdown,
            console=build_console(
                lambda: self.runtime.service if self.runtime else None,
                lambda: SqlKeyStore(self.runtime.store) if self.runtime else None,
                admin_user=settings.admin_user,
                admin_password=settings.admin_password,
                session_secret=settings.admin_session_secret,
                trusted_proxies=[
                    p for p in settings.console_trusted_proxies.split(",") if p.strip()
                ],
                calls=self.metrics.calls,
            ),
        )

    async def startup(self) -> None:
        settings = self.settings
        store = SqlStore(
            make_source(
                settings.database_url,
                pool_size=settings.db_pool_size,
                timeout=settings.db_timeout_seconds,
            )
        )
        self.metrics.store_writable.set_function(lambda: 1.0 if store.writable else 0.0)
        secret = key_secret(settings)
        keyring = await Keyring.open(SqlKeyStore(store), secret, self.clock.now, settings.region)
        # Vended credentials are sealed with a key derived from the shared key secret, so every
        # replica and worker verifies them without a database write per vend.
        sealer = CredentialSealer(secret)
        liveness = SessionLiveness(store)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        # RSA signing releases the GIL: with more than one core, sign on a thread per core;
        # pinned to one core, signing inline avoids a pointless thread hop.
        self._sign_pool = ThreadPoolExecutor(cpus, "idpool-sign") if cpus > 1 else None
        signer = JwtTokenSigner(
            keyring, self.issuer, executor=self._sign_pool, offload=self._sign_pool is not None
        )
        http = httpx.AsyncClient(timeout=5.0)
        own_tokens = OwnTokenVerifier(keyring, self.issuer, self.clock.now)
        verifier = ReloadingLoginVerifier(
            lambda: providers_config(settings, self.seed),
            lambda cfg, previous: build_login_verifier(
                cfg, http, self.clock.now, own_tokens, previous=previous
            ),
            path=settings.providers_file,
        )
        config = verifier.config
        self._watch_providers(verifier)
        if settings.credential_mode == "sts":
            vendor: Any = StsCredentialVendor(
                endpoint_url=settings.sts_endpoint, region=settings.region
            )
        else:
            vendor = LocalCredentialVendor(clock=self.clock.now, sealer=sealer)
        throttle = None
        if settings.throttle:
            throttle = TokenBucketThrottle(
                DEFAULT_RATES, clock=self.clock.now, replica_share=settings.replicas
            )
        deps = ServiceDeps(
            store=store,
            clock=self.clock,
            ids=RandomIds(),
            logins=verifier,
            default_region=settings.region,
            signer=signer,
            vendor=vendor,
            pool_cache_seconds=settings.pool_cache_seconds,
            on_identity_created=self.metrics.identities_created.inc,
            rate_limiter=throttle,
            # Read through the verifier so a reloaded providers file is seen at once.
            oidc_provider_configured=lambda arn: verifier.config.registers_oidc_provider(arn),  # noqa: PLW0108
            quotas=Quotas(user_pool_providers_per_pool=settings.user_pool_providers_per_pool),
        )
        service = IdentityPoolService(deps, AdminQueries(store))
        self.runtime = Runtime(store, keyring, service, http)
        verifier_v4 = SigV4Verifier(
            self.principals,
            mode="strict" if settings.auth_mode == "strict" else "lax",
            clock=self.clock.now,
            default_account=settings.account_id,
            sessions=sealer if settings.accept_vended_credentials else None,
        )

        async def authenticate(
            method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
        ) -> Caller | None:
            principal = verifier_v4.verify(method, path, query, headers, body)
            if principal is None:
                return None
            if principal.session is not None:
                await liveness.check(principal.session)
            return Caller(
                account_id=principal.account_id,
                region=principal.region,
                access_key_id=principal.access_key_id,
                signed=True,
                session=principal.session,
            )

        pipeline = ApiPipeline(
            service,
            compile_checkers(service_model()),
            authenticate,
            default_account=settings.account_id,
            throttle=throttle,
            metrics=self.metrics,
            vendor_mode=settings.credential_mode,
            role_policy=self.role_policy,
        )
        # idpool's own STS always mints sealed credentials, whatever --credential-mode says.
        sts = StsEndpoint(
            StsService(
                deps,
                own_tokens,
                LocalCredentialVendor(clock=self.clock.now, sealer=sealer),
                self.role_policy,
            ),
            SigV4Verifier(
                self.principals,
                mode="strict",
                clock=self.clock.now,
                service="sts",
                sessions=sealer,
            ),
            liveness,
            credential_mode=settings.credential_mode,
            metrics=self.metrics,
        )
        gateway = GatewayAuth(
            SigV4Verifier(
                self.principals,
                mode="strict",
                clock=self.clock.now,
                service=settings.gateway_service,
                regions=frozenset({settings.gateway_region}) if settings.gateway_region else None,
                sessions=sealer,
            ),
            liveness,
            self.metrics,
        )
        self.asgi.attach(pipeline, sts, gateway)
        if config.trust_mode:
            log.warning(
                "TRUST MODE IS ON: provider tokens are accepted WITHOUT signature checks. "
                "Never use this outside local development."
            )

    def _watch_providers(self, verifier: ReloadingLoginVerifier) -> None:
        """Reload the providers file on SIGHUP and, every few seconds, when it changed."""
        loop = asyncio.get_running_loop()

        def on_sighup() -> None:
            task = loop.create_task(verifier.reload("SIGHUP"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
            self._sighup = True
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            # Not the main thread (an embedded or test server) or no SIGHUP on this platform.
            log.debug("SIGHUP reload unavailable here; the file watcher still runs")
        interval = self.settings.providers_reload_seconds
        if self.settings.providers_file and interval > 0:
            task = loop.create_task(verifier.watch(interval))
            self._tasks.add(task)

    async def shutdown(self) -> None:
        if self._sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup = False
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        if self.runtime is not None:
            await self.runtime.http.aclose()
            await self.runtime.store.close()
            self.runtime = None
        if self._sign_pool is not None:
            self._sign_pool.shutdown(wait=False)

    async def _openid_configuration(self) -> Mapping[str, Any]:
        return openid_configuration(self.issuer, f"{self.issuer.rstrip('/')}/.well-known/jwks_uri")

    async def _jwks(self) -> Mapping[str, Any]:
        assert self.runtime is not None
        await self.runtime.keyring.maybe_refresh()
        return self.runtime.keyring.jwks()

    async def _ready(self) -> tuple[bool, Mapping[str, Any]]:
        """503 while starting or while the store does not answer a read within READY_TIMEOUT.

        A store that answers reads but cannot write (full disk) stays ready: every replica
        shares the database, so taking this one out of rotation only turns failed writes
        into failed reads too. The body says so, as do the idpool_store_writable gauge and
        a WARNING log line (docs/reliability.md).
        """
        if self.runtime is None:
            return False, {"status": "starting"}
        store = self.runtime.store
        timeout = min(READY_TIMEOUT, self.settings.db_timeout_seconds)
        if not await store.ping(timeout=timeout):
            return False, {"status": "store unreachable"}
        if not store.writable:
            return True, {"status": "ready", "writable": False}
        return True, {"status": "ready"}


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before the app exists, so a port of 0 is known when the issuer URL is derived."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(application: Application) -> Any:
    """The HTTP server: uvicorn with uvloop and httptools, no access log (we log ourselves)."""
    import uvicorn

    return uvicorn.Config(
        application.asgi,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_keep_alive=30,
        limit_concurrency=4096,
        server_header=False,
        date_header=True,
        proxy_headers=False,
    )


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
                quotas=Quotas(user_pool_providers_per_pool=settings.user_pool_providers_per_pool),
            )
            return await apply_seed(PoolAdministration(deps), seed, settings.region)
        finally:
            await store.close()

    return asyncio.run(run())


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
