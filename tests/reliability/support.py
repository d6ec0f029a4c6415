"""Shared tools of the reliability suite: real server processes, signed raw HTTP, the AWS answer
invariant and the database invariants.

The crash, outage and two-replica tests need `idpool serve` as a separate OS process (a thread in
the test process cannot be SIGKILLed), so `ServerProcess` starts the real command line exactly as
an operator would, reads the port from its start-up log line, and owns nothing else.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ServiceModel
from botocore.parsers import JSONParser
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TARGET_PREFIX = "AWSCognitoIdentityService."
JSON_TYPE = "application/x-amz-json-1.1"
DEFAULT_KEY = "AKIAIDPOOLTEST000001"
KEY_SECRET = "reliability-key-secret"
_LISTENING = re.compile(r"listening on http://([0-9.]+):(\d+)")


@cache
def service_model() -> ServiceModel:
    """botocore's own model: the yardstick the server's answers are checked against."""
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    return ServiceModel(loader.load_service_model("cognito-identity", "service-2"))


@cache
def public_operations() -> frozenset[str]:
    model = service_model()
    return frozenset(
        name for name in model.operation_names if model.operation_model(name).auth_type == "none"
    )


@cache
def known_error_codes() -> frozenset[str]:
    """Every `__type` the server may legitimately send: the domain's ServiceError subclasses."""
    from idpool.domain import errors

    codes: set[str] = set()
    pending: list[type[errors.ServiceError]] = [errors.ServiceError]
    while pending:
        kind = pending.pop()
        codes.add(kind.code)
        pending.extend(kind.__subclasses__())
    return frozenset(codes)


@cache
def common_error_codes() -> frozenset[str]:
    """AWS's common errors (the domain's ProtocolError subclasses): any operation may answer them."""
    from idpool.domain import errors

    return frozenset(kind.code for kind in errors.ProtocolError.__subclasses__())


def declared_errors(operation: str) -> frozenset[str]:
    """The error shapes botocore's model lists for the operation, read at run time."""
    return frozenset(e.name for e in service_model().operation_model(operation).error_shapes)


def assert_declared(operation: str | None, code: str) -> None:
    """An operation answers only errors its model declares, or AWS's common errors.

    SDKs generate an exception class per declared error and treat other codes as unknown;
    some retry unknown codes that look like throttling (LimitExceededException).
    """
    if operation is None or operation not in service_model().operation_names:
        return  # no operation ran: the answer can only be a common error
    allowed = declared_errors(operation) | common_error_codes()
    assert code in allowed, f"{operation} answered {code}, which its model does not declare"


# --- raw, optionally signed HTTP -----------------------------------------------------------


def api_headers(
    url: str,
    operation: str | None,
    body: bytes,
    *,
    access_key: str = DEFAULT_KEY,
    sign: bool | None = None,
    content_type: str = JSON_TYPE,
) -> dict[str, str]:
    """Headers of one API call; admin operations are signed by botocore's SigV4Auth.

    `sign=None` signs exactly the operations that need it; the server's default (lax) auth
    mode accepts any well-formed signature, so dummy credentials are enough.
    """
    headers = {"content-type": content_type}
    if operation is not None:
        headers["x-amz-target"] = TARGET_PREFIX + operation
    if sign is None:
        sign = operation is not None and operation not in public_operations()
    if not sign:
        return headers
    request = AWSRequest(method="POST", url=url.rstrip("/") + "/", data=body, headers=headers)
    SigV4Auth(Credentials(access_key, "dummy-secret"), "cognito-identity", "us-east-1").add_auth(
        request
    )
    return {k.lower(): v for k, v in request.headers.items()}


def encode(params: Any) -> bytes:
    return json.dumps(params).encode()


def call(
    client: httpx.Client, operation: str, params: Any, *, access_key: str = DEFAULT_KEY
) -> httpx.Response:
    body = encode(params)
    url = str(client.base_url)
    headers = api_headers(url, operation, body, access_key=access_key)
    return client.post("/", content=body, headers=headers)


async def acall(
    client: httpx.AsyncClient, operation: str, params: Any, *, access_key: str = DEFAULT_KEY
) -> httpx.Response:
    body = encode(params)
    url = str(client.base_url)
    headers = api_headers(url, operation, body, access_key=access_key)
    return await client.post("/", content=body, headers=headers)


def ok(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a 2xx answer; anything else fails the test with the server's words."""
    assert response.status_code == 200, f"{response.status_code} {response.text[:500]}"
    return dict(response.json())


SOCIAL = {"graph.facebook.com": "app", "accounts.google.com": "client"}


def social_pool(
    client: httpx.Client, name: str, developer: str, role: str, *, access_key: str
) -> str:
    """A pool that takes guests, Facebook and Google logins and a developer provider, with
    both roles set, so every public flow works on it."""
    pool_id = ok(
        call(
            client,
            "CreateIdentityPool",
            {
                "IdentityPoolName": name,
                "AllowUnauthenticatedIdentities": True,
                "SupportedLoginProviders": SOCIAL,
                "DeveloperProviderName": developer,
            },
            access_key=access_key,
        )
    )["IdentityPoolId"]
    roles = {"authenticated": role, "unauthenticated": role}
    ok(
        call(
            client,
            "SetIdentityPoolRoles",
            {"IdentityPoolId": pool_id, "Roles": roles},
            access_key=access_key,
        )
    )
    return str(pool_id)


# --- the AWS answer invariant --------------------------------------------------------------


def aws_error(response: httpx.Response) -> tuple[str, str]:
    """(__type, message) of an AWS JSON 1.1 error, asserting its whole shape on the way."""
    assert response.headers.get("content-type") == JSON_TYPE, response.headers
    assert response.headers.get("x-amzn-requestid"), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    code, message = body.get("__type"), body.get("message")
    assert isinstance(code, str) and code in known_error_codes(), body
    assert isinstance(message, str) and message, body
    assert response.headers.get("x-amzn-errortype") == f"{code}:", response.headers
    return code, message


def assert_aws_answer(response: httpx.Response, operation: str | None) -> None:
    """Every answer is an AWS-shaped 4xx of an error the operation declares (or a common one),
    or a 2xx that botocore parses as the operation's output.

    Never a 5xx: a 500 tells SDKs to retry, and for bad input that retry can never succeed.
    """
    status = response.status_code
    assert status < 500, f"{operation}: {status} {response.text[:500]}"
    if status >= 400:
        assert_declared(operation, aws_error(response)[0])
        return
    assert status == 200, f"{operation}: {status} {response.text[:500]}"
    assert operation is not None
    assert response.headers.get("content-type") == JSON_TYPE
    body = response.json()
    assert isinstance(body, dict), body
    output = service_model().operation_model(operation).output_shape
    if output is None:
        assert body == {}, body
        return
    assert set(body) <= set(output.members), (operation, sorted(body))
    assert set(output.required_members) <= set(body), (operation, sorted(body))
    JSONParser().parse(
        {"status_code": 200, "headers": dict(response.headers), "body": response.content},
        output,
    )


# --- `idpool serve` as a process -------------------------------------------------------------


def _clean_env(workdir: Path) -> dict[str, str]:
    """The parent environment without IDPOOL_* settings, so only our flags configure the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDPOOL_")}
    env["XDG_DATA_HOME"] = str(workdir / "xdg")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def idpool_command(command: str, database_url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "idpool", command, "--database-url", database_url, *extra]


def migrate(database_url: str, workdir: Path) -> None:
    """`idpool migrate`: the explicit step a PostgreSQL deployment runs before its replicas."""
    done = subprocess.run(
        idpool_command("migrate", database_url),
        env=_clean_env(workdir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


class ServerProcess:
    """One `idpool serve` process on a free port, logging into a file we can read and grep."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        name: str = "server",
        extra: Sequence[str] = (),
        log_level: str = "info",
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.args = [
            *idpool_command("serve", database_url),
            "--port",
            "0",
            "--trust-mode",
            "--no-throttle",
            "--key-secret",
            KEY_SECRET,
            "--log-level",
            log_level,
            *extra,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._log_offset = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start (or restart) the process and wait until it accepts requests."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=_clean_env(self.workdir),
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            found = _LISTENING.search(self.log()[self._log_offset :])
            if found:
                self.port = int(found.group(2))
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"idpool serve exited early:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"idpool serve did not start:\n{self.log()[-4000:]}")
            time.sleep(0.05)
        self.wait_healthy(deadline - time.monotonic())
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"idpool serve is not healthy:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, exactly what a crash or OOM kill does.

        The whole process group dies at once (the server runs in a session of its own), so
        with `--workers` every worker is killed mid-request too, not told to shut down.
        """
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_bytes(self) -> int:
        """Resident set size from /proc, so the soak needs no extra package."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert found, status
        return int(found.group(1)) * 1024


@contextmanager
def server_process(database_url: str, workdir: Path, **kw: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, workdir, **kw).start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_ctl(action: str) -> None:
    """Stop or start the machine's PostgreSQL cluster (the outage test only)."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    extra = ["-m", "fast"] if action == "stop" else []
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *extra],
        check=False,
        capture_output=True,
        timeout=120,
    )


def postgres_is_up() -> bool:
    import psycopg

    from tests.support.postgres import PG_DSN

    try:
        with psycopg.connect(PG_DSN, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def ensure_postgres_up(timeout: float = 60.0) -> None:
    """Start the cluster if it is down and wait for it; safe to call any number of times."""
    deadline = time.monotonic() + timeout
    while not postgres_is_up():
        postgres_ctl("start")
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come back")
        time.sleep(0.5)


# --- the database, read directly -------------------------------------------------------------


def sync_url(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


# Each query names the pool column to scope it by as `{pool:alias}` (see `link_violations`).
LINK_INVARIANTS: Mapping[str, str] = {
    "link whose identity does not exist": """
        SELECT l.pool_id, l.provider, l.subject FROM links l
        LEFT JOIN identities i ON i.identity_id = l.identity_id
        WHERE i.identity_id IS NULL {pool:l}""",
    "link whose identity is in another pool": """
        SELECT l.pool_id, l.provider, l.subject FROM links l
        JOIN identities i ON i.identity_id = l.identity_id
        WHERE i.pool_id <> l.pool_id {pool:l}""",
    "identity whose pool does not exist": """
        SELECT i.identity_id FROM identities i
        LEFT JOIN pools p ON p.pool_id = i.pool_id
        WHERE p.pool_id IS NULL {pool:i}""",
    "identity with two users of one public provider": """
        SELECT l.identity_id, l.provider FROM links l WHERE NOT l.developer {pool:l}
        GROUP BY l.identity_id, l.provider HAVING COUNT(*) > 1""",
    "login owned by two identities": """
        SELECT l.pool_id, l.provider, l.subject FROM links l WHERE 1 = 1 {pool:l}
        GROUP BY l.pool_id, l.provider, l.subject HAVING COUNT(DISTINCT l.identity_id) > 1""",
    "linked identity that is disabled or unauthenticated": """
        SELECT DISTINCT i.identity_id FROM identities i
        JOIN links l ON l.identity_id = i.identity_id
        WHERE (i.disabled OR NOT i.authenticated) {pool:l}""",
}
_POOL_SCOPE = re.compile(r"\{pool:(\w+)\}")


def link_violations(
    database_url: str, pool_id: str | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Each invariant of the link graph that the rows break, with the offending rows.

    With `pool_id`, only that pool's rows count: a test that shares a database with others
    (the session server, or a module's replicas) must not fail, or pass, on their rows.
    """
    found: dict[str, list[tuple[Any, ...]]] = {}
    for name, sql in LINK_INVARIANTS.items():
        scoped = _POOL_SCOPE.sub(
            lambda m: "" if pool_id is None else f"AND {m.group(1)}.pool_id = :pool", sql
        )
        rows = query(database_url, scoped, **({} if pool_id is None else {"pool": pool_id}))
        if rows:
            found[name] = rows
    return found
