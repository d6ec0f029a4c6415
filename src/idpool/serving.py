"""`idpool serve` as an operator meets it: check the settings and files, listen, migrate,
seed, start up (one process, or a supervisor over `--workers`), then say where it listens.

Everything here that can fail because of the operator's settings raises one of
OPERATOR_ERRORS, which the CLI prints as one line; the composition root itself (building the
service and the edge from Settings) is app.py.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from idpool.app import Application
from idpool.auth.principals import PrincipalsFileError
from idpool.config import ConfigError, Settings
from idpool.domain.errors import InternalErrorException
from idpool.factories import (
    sqlite_path,
    warn_about_file_modes,
)
from idpool.logging_setup import configure as configure_logging
from idpool.offline import apply_seed_to_database, ensure_signing_key
from idpool.providers.config import ProvidersConfigError
from idpool.seed import Seed, SeedError, load_seed
from idpool.server.workers import Supervisor, WorkerShared, worker_count
from idpool.service.role_policy import RolesFileError
from idpool.signing.crypto_box import KeySecretMismatch
from idpool.storage.dialects import is_sqlite
from idpool.storage.migrate import SchemaOutOfDate, current_revision, ensure_current, head_revision

log = logging.getLogger("idpool")


def prepare_database(settings: Settings) -> str | None:
    """Migrate (or refuse an out-of-date schema) before the server starts.

    Returns a note for the start-up line when it changed the schema.
    """
    migrate = settings.migrate
    if migrate is None:
        migrate = is_sqlite(settings.database_url)
    before = current_revision(settings.database_url) if migrate else None
    ensure_current(settings.database_url, migrate=migrate)
    if migrate and before != head_revision():
        return f"schema migrated from {before or 'nothing'} to {head_revision()}"
    return None


def require_current_schema(settings: Settings) -> None:
    """For offline commands: the database must exist and be migrated (never create it)."""
    database = sqlite_path(settings.database_url)
    if database is not None and not database.exists():
        raise SchemaOutOfDate(
            f"there is no database at {database}: create it with "
            f"`idpool migrate --database-url {settings.database_url}`"
        )
    try:
        ensure_current(settings.database_url, migrate=False)
    except SchemaOutOfDate as exc:
        raise SchemaOutOfDate(
            f"{str(exc).split(':', 1)[0]}: run `idpool migrate --database-url "
            f"{safe_url(settings.database_url)}` first"
        ) from None


def safe_url(database_url: str) -> str:
    """The database URL without its password, for messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def check_database_url(database_url: str) -> None:
    """A --database-url idpool cannot use is refused before anything touches it."""
    try:
        backend = make_url(database_url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in {"sqlite", "postgresql", "postgres"}:
        raise ConfigError(
            f"cannot use --database-url {database_url!r}: give sqlite:///PATH or "
            "postgresql://USER@HOST/DB"
        )


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached or opened becomes one line naming it."""
    check_database_url(settings.database_url)
    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(
            f"cannot use the database {safe_url(settings.database_url)}: {reason}"
        ) from None
    except OSError as exc:  # the SQLite file or its directory cannot be created
        raise ConfigError(
            f"cannot use the database {safe_url(settings.database_url)}: "
            f"{exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}"
        ) from None
    except InternalErrorException as exc:
        cause = exc.__cause__
        reason = str(getattr(cause, "orig", None) or cause or exc).strip().splitlines()[0]
        raise ConfigError(
            f"cannot use the database {safe_url(settings.database_url)}: {reason}"
        ) from None


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before the app exists, so a port of 0 is known when the issuer URL is derived.

    An address that cannot be used raises ConfigError saying which and why.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OverflowError:
        sock.close()
        raise ConfigError(f"cannot listen on port {port}: a port is 0 to 65535") from None
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = ""
        if exc.errno == errno.EADDRINUSE:
            hint = " (is another server running there? choose another --port)"
        elif isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            hint = " (--host must be an address of this machine)"
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    sock.set_inheritable(True)
    return sock


def uvicorn_config(application: Application) -> uvicorn.Config:
    """The HTTP server: uvicorn with uvloop and httptools, no access log (we log ourselves)."""
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


def serve(settings: Settings) -> int:
    """`idpool serve`: check the files, listen, migrate, seed, start up, say where, serve.

    Everything that can fail because of the operator's settings happens before the one
    start-up line; such failures raise one of OPERATOR_ERRORS. With `--workers N` (N > 1)
    this process supervises N forked workers instead of serving (server/workers.py).
    Returns the exit status.
    """
    import uvicorn

    configure_logging(settings.log_level)
    check_database_url(settings.database_url)
    try:
        workers = worker_count(settings.workers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    seed = load_seed(settings.seed_file) if settings.seed_file else None
    sock = bind_socket(settings.host, settings.port)
    shared: WorkerShared | None = None
    try:
        settings = replace(settings, port=sock.getsockname()[1])
        application = Application(settings, seed=seed)
        warn_about_file_modes(settings)
        with database_errors(settings):
            migrated = prepare_database(settings)
            if migrated:
                application.startup_notes.append(migrated)
            if seed is not None:
                pools = apply_seed_to_database(settings, seed)
                application.startup_notes.append(
                    f"{len(pools)} pool(s) seeded from {settings.seed_file}"
                )
        if workers > 1:
            with database_errors(settings):
                application.startup_notes.extend(asyncio.run(ensure_signing_key(settings)))
            shared = WorkerShared.create()
            application.startup_notes.append(f"{workers} workers")
            log.info("%s", listening_line(settings, application.startup_notes))
            return _supervise(settings, seed, sock, shared, workers)
        config = uvicorn_config(application)
        server = uvicorn.Server(config)

        async def run() -> None:
            with database_errors(settings):
                await application.startup()
            log.info("%s", listening_line(settings, application.startup_notes))
            # The lifespan start-up finds the runtime built; its shutdown closes it.
            await server.serve(sockets=[sock])

        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(run())
        return 0
    finally:
        sock.close()
        if shared is not None:
            shared.remove()


def _supervise(
    settings: Settings,
    seed: Seed | None,
    sock: socket.socket,
    shared: WorkerShared,
    workers: int,
) -> int:
    """Fork the workers; each builds its own application and serves the inherited socket."""
    import uvicorn
    from prometheus_client import multiprocess

    def run_worker(index: int) -> None:
        application = Application(settings, seed=seed, worker=shared)
        config = uvicorn_config(application)
        server = uvicorn.Server(config)

        async def run() -> None:
            await application.startup()
            await server.serve(sockets=[sock])

        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(run())

    def worker_exited(pid: int) -> None:
        # Gauges of a dead worker ("live" modes) leave the sum; its counters stay counted.
        multiprocess.mark_process_dead(pid, str(shared.metrics_dir))  # type: ignore[no-untyped-call]

    status = Supervisor(workers, run_worker, on_worker_exit=worker_exited).run()
    if status != 0:
        log.error("idpool stopped: its workers could not start (see the errors above)")
    return status


def describe_store(database_url: str) -> str:
    """`sqlite /absolute/path` or the PostgreSQL URL without its password."""
    database = sqlite_path(database_url)
    return f"sqlite {database}" if database else safe_url(database_url)


def listening_line(settings: Settings, notes: list[str]) -> str:
    store = describe_store(settings.database_url)
    line = (
        f"idpool listening on {settings.base_url} (store {store}, auth {settings.auth_mode}, "
        f"credentials {settings.credential_mode})"
    )
    return f"{line}; {', '.join(notes)}" if notes else line


# Failures caused by the operator's settings or files: `idpool` prints their message, one line.
OPERATOR_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    SchemaOutOfDate,
    SeedError,
    PrincipalsFileError,
    ProvidersConfigError,
    RolesFileError,
    KeySecretMismatch,
)
