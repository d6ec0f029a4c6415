"""The command line: serve | migrate | seed | keys rotate.

Options come from `config.Settings`: each subcommand offers the settings it reads (`serve`
all of them), converted from text by `config.parse_setting`, the one conversion that the
environment variables use too. Every mistake a person can make on the command line, in the
environment or in a file named there ends as one line on stderr and exit status 2; a server
that cannot start says why before it ever says it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, NoReturn

from idpool import __version__
from idpool.config import (
    ConfigError,
    Settings,
    default_text,
    env_name,
    from_environment,
    is_switch,
    parse_setting,
    setting_choices,
)

DESCRIPTION = "A self-hosted, wire-compatible server of Amazon Cognito Identity (identity pools)."
ENVIRONMENT_NOTE = (
    "Every option can also be set as an environment variable IDPOOL_<NAME> "
    "(shown in brackets); an option on the command line wins."
)

# The settings each subcommand reads; `serve` reads every setting. A new setting is a serve
# option without any change here; list it below only if another command reads it too.
COMMAND_SETTINGS: dict[str, tuple[str, ...]] = {
    "migrate": ("database_url",),
    "seed": ("database_url", "migrate", "region"),
    "keys rotate": ("database_url", "key_secret", "region"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and a pointer to --help), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _converter(name: str) -> Callable[[str], Any]:
    def convert(raw: str) -> Any:
        try:
            return parse_setting(name, raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name  # argparse names the converter in some messages
    return convert


def _add_settings_flags(parser: argparse.ArgumentParser, names: Sequence[str] | None) -> None:
    wanted = set(names) if names is not None else None
    for item in fields(Settings):
        if wanted is not None and item.name not in wanted:
            continue
        flag = "--" + item.name.replace("_", "-")
        shown = default_text(item)
        help_text = f"{item.metadata.get('doc', '')} [{env_name(item.name)}]"
        if shown is not None:
            help_text += f" (default: {shown})"
        help_text = help_text.replace("%", "%%")
        if is_switch(item.name):
            parser.add_argument(
                flag,
                dest=item.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
            continue
        choices = setting_choices(item.name)
        parser.add_argument(
            flag,
            dest=item.name,
            type=_converter(item.name),
            default=None,
            metavar="{" + ",".join(choices) + "}" if choices else item.name.upper(),
            help=help_text,
        )


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, then the command line (which wins)."""
    names: tuple[str, ...] | None = getattr(args, "settings_names", None)
    values: dict[str, Any] = from_environment(names=names)
    values.update(
        {
            f.name: getattr(args, f.name)
            for f in fields(Settings)
            if getattr(args, f.name, None) is not None
        }
    )
    return Settings().with_overrides(values)


def cmd_serve(args: argparse.Namespace) -> int:
    from idpool.serving import serve

    return serve(settings_from(args))


def cmd_migrate(args: argparse.Namespace) -> int:
    from idpool.serving import database_errors, describe_store
    from idpool.storage.migrate import current_revision, upgrade

    settings = settings_from(args)
    with database_errors(settings):
        upgrade(settings.database_url)
        revision = current_revision(settings.database_url)
        print(f"schema at revision {revision} in {describe_store(settings.database_url)}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from idpool.offline import apply_seed_to_database
    from idpool.seed import load_seed
    from idpool.serving import database_errors, prepare_database

    settings = settings_from(args)
    seed = load_seed(args.file)
    with database_errors(settings):
        prepare_database(settings)
        pools = apply_seed_to_database(settings, seed)
    for pool in pools:
        print(f"{pool.pool_id}\t{pool.account_id}\t{pool.name}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from idpool.offline import rotate_keys
    from idpool.serving import database_errors, require_current_schema

    settings = settings_from(args)
    with database_errors(settings):
        require_current_schema(settings)
        kid = asyncio.run(rotate_keys(settings))
    print(f"new active signing key {kid}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="idpool", description=DESCRIPTION, epilog=ENVIRONMENT_NOTE)
    parser.add_argument("--version", action="version", version=f"idpool {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> Any:
        words = name.split()
        target = sub if len(words) == 1 else keys_sub
        names = COMMAND_SETTINGS.get(name)
        child = target.add_parser(
            words[-1], help=help_text, description=help_text, epilog=ENVIRONMENT_NOTE
        )
        child.set_defaults(func=func, settings_names=names)
        return child, names

    serve, names = command("serve", "run the server", cmd_serve)
    _add_settings_flags(serve, names)
    migrate, names = command("migrate", "apply database migrations and exit", cmd_migrate)
    _add_settings_flags(migrate, names)
    seed, names = command("seed", "apply a seed file to the database and exit", cmd_seed)
    seed.add_argument("file", help="the seed file (YAML)")
    _add_settings_flags(seed, names)
    keys = sub.add_parser("keys", help="manage signing keys", description="manage signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    rotate, names = command(
        "keys rotate",
        "make a new active signing key (the old one stays published)",
        cmd_keys_rotate,
    )
    _add_settings_flags(rotate, names)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from idpool.serving import OPERATOR_ERRORS

    try:
        return int(args.func(args))
    except Exception as exc:
        if not isinstance(exc, (ConfigError, *OPERATOR_ERRORS)):
            raise
        print(f"idpool: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
