"""Settings: every knob of `idpool serve`, from flags or `IDPOOL_*` environment variables.

Stdlib only, so the command line can describe itself without importing the server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def data_dir() -> Path:
    """Where the embedded SQLite database and generated secrets live by default."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "idpool"


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
            "doc": "apply schema migrations at start-up (default: yes for SQLite, "
            "no for PostgreSQL, where `idpool migrate` is the explicit step)"
        },
    )
    region: str = field(default="us-east-1", metadata={"doc": "default region for new pools"})
    account_id: str = field(
        default="000000000000", metadata={"doc": "account of unsigned and lax-mode callers"}
    )
    issuer_url: str | None = field(
        default=None,
        metadata={"doc": "`iss` of issued tokens (default: this server's base URL)"},
    )
    auth_mode: str = field(
        default="lax",
        metadata={"doc": "strict: verify SigV4 against known keys; lax: accept any signature"},
    )
    credentials_file: str | None = field(
        default=None, metadata={"doc": "YAML/JSON list of access keys and their accounts"}
    )
    credential_mode: str = field(
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
            "doc": "secret that encrypts signing keys at rest (default: generated "
            "once into the data directory; set it explicitly for PostgreSQL replicas)"
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
            "doc": "key that signs console session cookies (default: derived from the "
            "admin password)"
        },
    )
    log_level: str = field(default="info", metadata={"doc": "debug, info, warning or error"})
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


def _parse(kind: Any, raw: str) -> Any:
    text = str(kind)
    if "bool" in text:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if "int" in text:
        return int(raw)
    if "float" in text:
        return float(raw)
    return raw


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`IDPOOL_<FIELD>` variables, typed like the fields they set."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for item in fields(Settings):
        raw = env.get(f"IDPOOL_{item.name.upper()}")
        if raw is not None:
            values[item.name] = _parse(item.type, raw)
    return values
