"""The command line: serve | migrate | seed | keys.

Every `serve` flag is generated from config.Settings, so flags, environment variables and
the configuration reference in docs/configuration.md cannot drift apart.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from dataclasses import MISSING, fields, replace
from typing import Any

from idpool.config import Settings, from_environment


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    for item in fields(Settings):
        flag = "--" + item.name.replace("_", "-")
        doc = item.metadata.get("doc", "")
        env = f"IDPOOL_{item.name.upper()}"
        kind = str(item.type)
        if "bool" in kind:
            parser.add_argument(
                flag,
                dest=item.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{doc} [{env}]",
            )
        else:
            default = item.default if item.default is not MISSING else None
            parser.add_argument(
                flag,
                dest=item.name,
                type=int if "int" in kind else float if "float" in kind else str,
                default=None,
                help=f"{doc} [{env}] (default: {default if default is not None else 'see docs'})",
            )


def settings_from(args: argparse.Namespace) -> Settings:
    values: dict[str, Any] = from_environment()
    values.update(
        {
            f.name: getattr(args, f.name)
            for f in fields(Settings)
            if getattr(args, f.name, None) is not None
        }
    )
    return Settings().with_overrides(values)


def _configure_logging(level: str) -> None:
    from idpool.logging_setup import configure

    configure(level)


def cmd_serve(args: argparse.Namespace) -> int:
    from idpool.server.workers import WorkerShared, worker_count

    settings = settings_from(args)
    _configure_logging(settings.log_level)
    try:
        workers = worker_count(settings.workers)
    except ValueError as exc:
        print(f"idpool: {exc}", file=sys.stderr)
        return 2
    # Before anything imports prometheus-client: it picks its multiprocess mode at import.
    shared = WorkerShared.create() if workers > 1 else None
    try:
        return _serve(settings, workers, shared)
    finally:
        if shared is not None:
            shared.remove()


def _serve(settings: Settings, workers: int, shared: Any) -> int:
    import uvicorn

    from idpool.app import (
        Application,
        bind_socket,
        prepare_database,
        role_policy,
        uvicorn_config,
    )
    from idpool.storage.migrate import SchemaOutOfDate

    log = logging.getLogger("idpool")
    try:
        prepare_database(settings)
    except SchemaOutOfDate as exc:
        print(f"idpool: {exc}", file=sys.stderr)
        return 2
    seed = None
    if settings.seed_file:
        from idpool.app import apply_seed_to_database
        from idpool.seed import SeedError, load_seed

        try:
            seed = load_seed(settings.seed_file)
            pools = apply_seed_to_database(settings, seed)
        except SeedError as exc:
            print(f"idpool: {exc}", file=sys.stderr)
            return 2
        log.info("seeded %d pool(s) from %s", len(pools), settings.seed_file)
    sock = bind_socket(settings.host, settings.port)
    settings = replace(settings, port=sock.getsockname()[1])
    from idpool.service.role_policy import RolesFileError

    try:
        if shared is None:
            application = Application(settings, seed=seed)
        else:  # the workers build their own; here only check what they will read
            role_policy(settings)
    except RolesFileError as exc:
        print(f"idpool: {exc}", file=sys.stderr)
        return 2
    log.info(
        "idpool listening on %s (store %s, auth %s, credentials %s, %d worker%s)",
        settings.base_url,
        settings.database_url.split(":", 1)[0],
        settings.auth_mode,
        settings.credential_mode,
        workers,
        "" if workers == 1 else "s",
    )
    if shared is None:
        uvicorn.Server(uvicorn_config(application)).run(sockets=[sock])
        return 0
    import asyncio

    from prometheus_client import multiprocess

    from idpool.app import ensure_signing_key
    from idpool.server.workers import Supervisor

    asyncio.run(ensure_signing_key(settings))

    def run_worker(index: int) -> None:
        # Each worker builds its own application: its own event loop, pool and caches.
        worker_app = Application(settings, seed=seed, worker=shared)
        uvicorn.Server(uvicorn_config(worker_app)).run(sockets=[sock])

    def worker_exited(pid: int) -> None:
        multiprocess.mark_process_dead(pid, str(shared.metrics_dir))  # type: ignore[no-untyped-call]

    return Supervisor(workers, run_worker, on_worker_exit=worker_exited).run()


def cmd_migrate(args: argparse.Namespace) -> int:
    from idpool.storage.migrate import current_revision, upgrade

    settings = settings_from(args)
    upgrade(settings.database_url)
    print(f"schema at revision {current_revision(settings.database_url)}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from idpool.app import apply_seed_to_database, prepare_database
    from idpool.seed import SeedError, load_seed

    settings = settings_from(args)
    prepare_database(settings)
    try:
        pools = apply_seed_to_database(settings, load_seed(args.file))
    except SeedError as exc:
        print(f"idpool: {exc}", file=sys.stderr)
        return 2
    for pool in pools:
        print(f"{pool.pool_id}\t{pool.account_id}\t{pool.name}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from idpool.app import rotate_keys

    settings = settings_from(args)
    kid = asyncio.run(rotate_keys(settings))
    print(f"new active signing key {kid}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idpool", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    _add_settings_flags(serve)
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="apply database migrations")
    _add_settings_flags(migrate)
    migrate.set_defaults(func=cmd_migrate)
    seed = sub.add_parser("seed", help="apply a seed file to the database and exit")
    seed.add_argument("file", help="the seed file (YAML)")
    _add_settings_flags(seed)
    seed.set_defaults(func=cmd_seed)
    keys = sub.add_parser("keys", help="manage signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser("rotate", help="make a new active signing key")
    _add_settings_flags(rotate)
    rotate.set_defaults(func=cmd_keys_rotate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))
