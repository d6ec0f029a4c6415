"""Composition root: the only module that knows every concrete adapter.

Builds the store, the signing keyring, the login verifiers, the credential vendor, the
service and the HTTP edge from Settings. The server's own event loop opens the store and
the keyring (lifespan start-up), because PostgreSQL connections belong to that loop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from idpool.auth.callers import CallerAuthenticator, LiveSigner
from idpool.auth.principals import PrincipalDirectory, load_principals
from idpool.auth.sessions import SessionLiveness
from idpool.auth.sigv4 import SigV4Verifier
from idpool.config import Settings
from idpool.factories import (
    credential_vendor,
    open_store,
    providers_config,
    quotas,
    request_throttle,
    resolve_key_secret,
    role_policy,
    signing_pool,
    startup_providers_config,
)
from idpool.logging_setup import enable_access_log
from idpool.providers.registry import build_login_verifier
from idpool.providers.reload import (
    ReloadingLoginVerifier,
)
from idpool.seed import Seed, load_seed
from idpool.server.asgi import EdgeSettings, IdpoolApp, WellKnown
from idpool.server.console import build_console
from idpool.server.gateway import GatewayAuth
from idpool.server.metrics import Metrics
from idpool.server.pipeline import ApiPipeline
from idpool.server.sts import StsEndpoint
from idpool.server.workers import WorkerShared
from idpool.service.admin import AdminQueries
from idpool.service.context import ServiceDeps
from idpool.service.facade import IdentityPoolService
from idpool.service.sts import StsService
from idpool.service.system import RandomIds, SystemClock
from idpool.signing.discovery import openid_configuration
from idpool.signing.jwt import JwtTokenSigner, OwnTokenVerifier
from idpool.signing.keyring import Keyring
from idpool.storage.keys import SqlKeyStore
from idpool.storage.sql import SqlStore
from idpool.vending.local import LocalCredentialVendor
from idpool.vending.sealed import CredentialSealer
from idpool.wire.constraints import compile_checkers
from idpool.wire.model import service_model

log = logging.getLogger("idpool")

# How long /ready waits for the store: a probe must answer well within its own timeout.
READY_TIMEOUT = 1.0


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
        self,
        settings: Settings,
        *,
        clock: SystemClock | None = None,
        seed: Seed | None = None,
        worker: WorkerShared | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        # One of several worker processes (--workers): state shared with the others.
        self.worker = worker
        self.metrics = Metrics(worker.metrics_dir if worker is not None else None)
        if settings.access_log:
            enable_access_log()
        self.runtime: Runtime | None = None
        self._sign_pool: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._sighup = False
        self.principals = (
            load_principals(settings.credentials_file)
            if settings.credentials_file
            else PrincipalDirectory([])
        )
        if seed is None and settings.seed_file:
            seed = load_seed(settings.seed_file)
        self.seed = seed
        # Read and checked here, so a bad providers file fails before anything listens.
        self.providers = startup_providers_config(settings, seed)
        # What start-up did for the first time (schema, key, secret): the listening line says it.
        self.startup_notes: list[str] = []
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
                revoked_dir=worker.revoked_dir if worker is not None else None,
            ),
        )

    async def startup(self) -> None:
        """Open the store and the keyring and build the service (once; later calls do nothing).

        `serve` calls it before it says it listens, so a failure is reported as the reason the
        server did not start; the ASGI lifespan calls it for servers started in other ways.
        """
        if self.runtime is not None:
            return
        settings, now = self.settings, self.clock.now
        secret = resolve_key_secret(settings)
        store = open_store(settings)
        self.metrics.track_writable(lambda: store.writable)
        if self.worker is not None:
            self._spawn(self._publish_writable(store))
        try:
            keyring = await Keyring.open(SqlKeyStore(store), secret.value, now, settings.region)
        except BaseException:
            await store.close()
            raise
        if secret.created:
            self.startup_notes.append(f"key secret generated into {secret.path}")
        if keyring.created_kid is not None:
            self.startup_notes.append(f"signing key {keyring.created_kid} created")
        # Vended credentials are sealed with a key derived from the shared key secret, so every
        # replica and worker verifies them without a database write per vend.
        sealer = CredentialSealer(secret.value)
        liveness = SessionLiveness(store)
        self._sign_pool = signing_pool()
        signer = JwtTokenSigner(
            keyring, self.issuer, executor=self._sign_pool, offload=self._sign_pool is not None
        )
        http = httpx.AsyncClient(timeout=5.0)
        own_tokens = OwnTokenVerifier(keyring, self.issuer, now)
        verifier = self._login_verifier(http, own_tokens)
        self._watch_providers(verifier)
        throttle = request_throttle(
            settings, now, self.worker.buckets if self.worker is not None else None
        )
        deps = ServiceDeps(
            store=store,
            clock=self.clock,
            ids=RandomIds(),
            logins=verifier,
            default_region=settings.region,
            signer=signer,
            vendor=credential_vendor(settings, now, sealer),
            pool_cache_seconds=settings.pool_cache_seconds,
            on_identity_created=self.metrics.identities_created.inc,
            rate_limiter=throttle,
            # Read through the verifier so a reloaded providers file is seen at once.
            oidc_provider_configured=lambda arn: verifier.config.registers_oidc_provider(arn),  # noqa: PLW0108
            quotas=quotas(settings),
            pool_changes=self.worker.pool_changes if self.worker is not None else None,
        )
        service = IdentityPoolService(deps, AdminQueries(store))
        self.runtime = Runtime(store, keyring, service, http)
        pipeline = ApiPipeline(
            service,
            compile_checkers(service_model()),
            CallerAuthenticator(LiveSigner(self._api_verifier(sealer), liveness)),
            default_account=settings.account_id,
            throttle=throttle,
            metrics=self.metrics,
            vendor_mode=settings.credential_mode,
            role_policy=self.role_policy,
        )
        sts = self._sts_endpoint(deps, own_tokens, sealer, liveness)
        gateway = GatewayAuth(LiveSigner(self._gateway_verifier(sealer), liveness), self.metrics)
        self.asgi.attach(pipeline, sts, gateway)
        if verifier.config.trust_mode:
            log.warning(
                "TRUST MODE IS ON: provider tokens are accepted WITHOUT signature checks. "
                "Never use this outside local development."
            )

    def _login_verifier(
        self, http: httpx.AsyncClient, own_tokens: OwnTokenVerifier
    ) -> ReloadingLoginVerifier:
        """Every provider type, rebuilt from the providers file (and seed) on each reload."""
        return ReloadingLoginVerifier(
            lambda: providers_config(self.settings, self.seed),
            lambda cfg, previous: build_login_verifier(
                cfg, http, self.clock.now, own_tokens, previous=previous
            ),
            path=self.settings.providers_file,
            initial=self.providers,
        )

    def _sts_endpoint(
        self,
        deps: ServiceDeps,
        own_tokens: OwnTokenVerifier,
        sealer: CredentialSealer,
        liveness: SessionLiveness,
    ) -> StsEndpoint:
        """idpool's own STS always mints sealed credentials, whatever --credential-mode says."""
        return StsEndpoint(
            StsService(
                deps,
                own_tokens,
                LocalCredentialVendor(clock=self.clock.now, sealer=sealer),
                self.role_policy,
            ),
            LiveSigner(self._sts_verifier(sealer), liveness),
            credential_mode=self.settings.credential_mode,
            metrics=self.metrics,
        )

    def _api_verifier(self, sealer: CredentialSealer) -> SigV4Verifier:
        settings = self.settings
        return SigV4Verifier(
            self.principals,
            mode="strict" if settings.auth_mode == "strict" else "lax",
            clock=self.clock.now,
            default_account=settings.account_id,
            sessions=sealer if settings.accept_vended_credentials else None,
        )

    def _sts_verifier(self, sealer: CredentialSealer) -> SigV4Verifier:
        return SigV4Verifier(
            self.principals, mode="strict", clock=self.clock.now, service="sts", sessions=sealer
        )

    def _gateway_verifier(self, sealer: CredentialSealer) -> SigV4Verifier:
        region = self.settings.gateway_region
        return SigV4Verifier(
            self.principals,
            mode="strict",
            clock=self.clock.now,
            service=self.settings.gateway_service,
            regions=frozenset({region}) if region else None,
            sessions=sealer,
        )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_writable(self, store: SqlStore) -> None:
        """Worker mode: prometheus' multiprocess files hold values, not callbacks."""
        while True:
            self.metrics.store_writable.set(1 if store.writable else 0)
            await asyncio.sleep(1.0)

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
