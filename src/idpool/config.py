"""Settings: every knob of `idpool serve`, from flags or `IDPOOL_*` environment variables.

Stdlib only, so the command line can describe itself without importing the server.

A setting is one field of `Settings`: its declared type says how text (a flag or an
environment variable) becomes its value (`parse_setting`, the only conversion there is), its
`doc` metadata is its help text, and an optional `default_text` (text, or a function giving
it) says in words what a `None` default means. The flag `--<name>` and the variable
`IDPOOL_<NAME>` follow from its name.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, Literal


class ConfigError(Exception):
    """A setting or a file named by one is wrong; the message is one line for the operator."""


def data_dir() -> Path:
    """Where the embedded SQLite database lives by default."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "idpool"


def secrets_dir() -> Path:
    """Where a generated key secret lives: apart from the database, so a copy of the data
    directory (a backup) cannot decrypt the signing keys stored in it."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "idpool"


def default_key_secret_file() -> Path:
    """The key secret generated when none is configured."""
    return secrets_dir() / "key-secret"


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'idpool.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    """One field per flag; the help text of each flag is its `doc` metadata."""

    host: str = field(default="127.0.0.1", metadata={"doc": "address to listen on"})
    port: int = field(default=4599, metadata={"doc": "port to listen on (0 picks a free one)"})
    database_url: str = field(
        default_factory=default_database_url,
        metadata={"doc": "sqlite:///PATH (default, embedded) or postgresql://USER@HOST/DB"},
    )
    db_pool_size: int = field(
        default=40,
        metadata={
            "doc": "PostgreSQL connections per process (no overflow: excess requests wait); "
            "keep replicas x this under the server's max_connections"
        },
    )
    db_timeout_seconds: float = field(
        default=5.0,
        metadata={
            "doc": "longest a request waits for the database (a connection, its statements "
            "and COMMIT); past it the request answers InternalErrorException"
        },
    )
    migrate: bool | None = field(
        default=None,
        metadata={
            "doc": "apply schema migrations at start-up",
            "default_text": "yes for SQLite; no for PostgreSQL, where `idpool migrate` does it",
        },
    )
    region: str = field(default="us-east-1", metadata={"doc": "default region for new pools"})
    account_id: str = field(
        default="000000000000", metadata={"doc": "account of unsigned and lax-mode callers"}
    )
    issuer_url: str | None = field(
        default=None,
        metadata={"doc": "`iss` of issued tokens", "default_text": "this server's base URL"},
    )
    auth_mode: Literal["strict", "lax"] = field(
        default="lax",
        metadata={"doc": "strict: verify SigV4 against known keys; lax: accept any signature"},
    )
    credentials_file: str | None = field(
        default=None, metadata={"doc": "YAML/JSON list of access keys and their accounts"}
    )
    credential_mode: Literal["local", "sts"] = field(
        default="local", metadata={"doc": "local: mint credentials; sts: call a real STS"}
    )
    sts_endpoint: str | None = field(
        default=None, metadata={"doc": "STS endpoint URL for credential_mode=sts"}
    )
    accept_vended_credentials: bool = field(
        default=False,
        metadata={
            "doc": "let credentials minted by the local vendor sign calls to idpool "
            "(strict mode); admin operations only as the roles file allows"
        },
    )
    roles_file: str | None = field(
        default=None,
        metadata={
            "doc": "YAML file declaring roles: admin operations their vended credentials "
            "may call, and trust conditions for idpool's STS"
        },
    )
    gateway_service: str = field(
        default="execute-api",
        metadata={"doc": "SigV4 service name the gateway auth endpoint (/gateway/auth) expects"},
    )
    gateway_region: str | None = field(
        default=None,
        metadata={"doc": "SigV4 region the gateway auth endpoint expects (default: any region)"},
    )
    key_secret: str | None = field(
        default=None,
        metadata={
            "doc": "secret that encrypts signing keys at rest (give every PostgreSQL replica "
            "the same one)",
            "default_text": lambda: f"generated once into {default_key_secret_file()}",
        },
    )
    providers_file: str | None = field(
        default=None,
        metadata={"doc": "YAML file of trusted OIDC issuers, SAML and social providers"},
    )
    user_pool_endpoint: str | None = field(
        default=None,
        metadata={
            "doc": "URL of a user-pool emulator (moto, LocalStack): keys of any "
            "cognito-idp.<region>.amazonaws.com/<poolId> issuer come from "
            "URL/<poolId>/.well-known/jwks.json"
        },
    )
    providers_reload_seconds: int = field(
        default=2,
        metadata={
            "doc": "how often the providers file is checked for changes and reloaded "
            "(0: only on SIGHUP)"
        },
    )
    trust_mode: bool = field(
        default=False,
        metadata={"doc": "accept provider tokens WITHOUT verifying signatures (development only)"},
    )
    pool_cache_seconds: float = field(
        default=1.0,
        metadata={
            "doc": "how long a replica may answer public calls from its cached copy of a pool "
            "changed by another replica (0 disables the cache)"
        },
    )
    user_pool_providers_per_pool: int = field(
        default=50,
        metadata={"doc": "most CognitoIdentityProviders per identity pool (AWS: 50, up to 1,000)"},
    )
    throttle: bool = field(default=True, metadata={"doc": "enforce AWS's request-rate quotas"})
    replicas: int = field(default=1, metadata={"doc": "number of replicas sharing the rate quotas"})
    workers: int = field(
        default=1,
        metadata={
            "doc": "server processes sharing the port (0: one per CPU); they share the rate "
            "quotas, pool cache, metrics and console sign-outs (docs/production.md#workers)"
        },
    )
    seed_file: str | None = field(
        default=None, metadata={"doc": "seed file applied at start-up (idempotent)"}
    )
    max_body_bytes: int = field(default=1024 * 1024, metadata={"doc": "request body limit"})
    body_timeout_seconds: float = field(
        default=10.0,
        metadata={
            "doc": "longest a client may take to send a whole request body; past it the "
            "request answers 408 RequestTimeoutException"
        },
    )
    cors_origins: str = field(
        default="*", metadata={"doc": "comma-separated allowed browser origins, or *"}
    )
    admin_user: str = field(
        default="admin", metadata={"doc": "user name of the admin console (/console)"}
    )
    admin_password: str | None = field(
        default=None,
        metadata={
            "doc": "admin console password; the console is off without one "
            "(prefer IDPOOL_ADMIN_PASSWORD)"
        },
    )
    admin_session_secret: str | None = field(
        default=None,
        metadata={
            "doc": "key that signs console session cookies",
            "default_text": "derived from the admin password",
        },
    )
    log_level: Literal["debug", "info", "warning", "error"] = field(
        default="info", metadata={"doc": "how much to log"}
    )
    access_log: bool = field(
        default=False, metadata={"doc": "one log line per API request at info"}
    )
    console_trusted_proxies: str = field(
        default="",
        metadata={
            "doc": "comma-separated proxy addresses/CIDRs whose X-Forwarded-For the console trusts"
        },
    )

    def with_overrides(self, values: Mapping[str, Any]) -> Settings:
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update({k: v for k, v in values.items() if v is not None})
        return Settings(**current)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


@cache
def setting_types() -> dict[str, Any]:
    """Each setting's declared type, resolved from its annotation."""
    return typing.get_type_hints(Settings)


def _unwrap_optional(kind: Any) -> Any:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        inner = [k for k in typing.get_args(kind) if k is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return kind


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _convert(kind: Any, raw: str) -> Any:
    kind = _unwrap_optional(kind)
    origin = typing.get_origin(kind)
    if origin is Literal:
        choices = typing.get_args(kind)
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(map(str, choices))}, got {raw!r}")
        return raw
    if origin is tuple:
        (item, *_rest) = typing.get_args(kind)
        return tuple(_convert(item, part.strip()) for part in raw.split(",") if part.strip())
    if kind is bool:
        text = raw.strip().lower()
        if text not in _TRUE | _FALSE:
            raise ValueError(f"expected true or false, got {raw!r}")
        return text in _TRUE
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
    if kind is Path:
        return Path(raw)
    if kind is str:
        return raw
    raise TypeError(f"no conversion from text to {kind!r}")


def parse_setting(name: str, raw: str) -> Any:
    """The value of setting `name` from its text form (a flag or an environment variable),
    converted by the setting's declared type. Raises ValueError with a one-line reason."""
    return _convert(setting_types()[name], raw)


def setting_choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of a `Literal` setting, for help texts."""
    kind = _unwrap_optional(setting_types()[name])
    return typing.get_args(kind) if typing.get_origin(kind) is Literal else None


def is_switch(name: str) -> bool:
    """A boolean setting: a `--name/--no-name` flag pair."""
    return _unwrap_optional(setting_types()[name]) is bool


def env_name(name: str) -> str:
    return f"IDPOOL_{name.upper()}"


def default_text(item: Field[Any]) -> str | None:
    """The default of a setting as the help and docs show it, or None when there is none."""
    if "default_text" in item.metadata:
        shown = item.metadata["default_text"]
        return str(shown() if callable(shown) else shown)
    if item.default_factory is not MISSING:
        value: Any = item.default_factory()
    elif item.default is not MISSING:
        value = item.default
    else:
        return None
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def from_environment(
    environ: Mapping[str, str] | None = None, names: typing.Iterable[str] | None = None
) -> dict[str, Any]:
    """`IDPOOL_<FIELD>` variables (of the settings `names`, default all), typed like the
    fields they set. A value that does not convert raises ConfigError."""
    env = os.environ if environ is None else environ
    wanted = set(names) if names is not None else {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    for item in fields(Settings):
        raw = env.get(env_name(item.name))
        if raw is not None and item.name in wanted:
            try:
                values[item.name] = parse_setting(item.name, raw)
            except ValueError as exc:
                raise ConfigError(f"{env_name(item.name)}: {exc}") from None
    return values
