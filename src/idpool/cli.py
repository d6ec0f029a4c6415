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
                type=int if "int" in kind else str,
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
    import uvicorn

    from idpool.app import Application, bind_socket, prepare_database, uvicorn_config
    from idpool.storage.migrate import SchemaOutOfDate

    settings = settings_from(args)
    _configure_logging(settings.log_level)
    log = logging.getLogger("idpool")
    try:
        prepare_database(settings)
    except SchemaOutOfDate as exc:
        print(f"idpool: {exc}", file=sys.stderr)
        return 2
    seed = None
    if settings.seed_file:
        from idpool.offline import apply_seed_to_database
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
        application = Application(settings, seed=seed)
    except RolesFileError as exc:
        print(f"idpool: {exc}", file=sys.stderr)
        return 2
    server = uvicorn.Server(uvicorn_config(application))
    log.info(
        "idpool listening on %s (store %s, auth %s, credentials %s)",
        settings.base_url,
        settings.database_url.split(":", 1)[0],
        settings.auth_mode,
        settings.credential_mode,
    )
    server.run(sockets=[sock])
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from idpool.storage.migrate import current_revision, upgrade

    settings = settings_from(args)
    upgrade(settings.database_url)
    print(f"schema at revision {current_revision(settings.database_url)}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from idpool.app import prepare_database
    from idpool.offline import apply_seed_to_database
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
    from idpool.offline import rotate_keys

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
