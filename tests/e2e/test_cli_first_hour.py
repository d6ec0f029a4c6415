"""A new user's first hour with the real `idpool` command (subprocesses, never in-process):
each mistake is one line on stderr and exit status 2, a server that cannot start never says
it listens, the help is per command, and the files idpool creates are private from the start.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_client
from tests.support.postgres import postgres_schema
from tests.support.serve_process import read_until_listening

IDPOOL = [sys.executable, "-m", "idpool"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDPOOL_")}
    env.update(
        XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"), HOME=str(home)
    )
    env.update(extra)
    return env


def idpool(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `idpool ARGS` in `home` (its working directory) and wait for it."""
    return subprocess.run(
        [*IDPOOL, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(home, **env),
        cwd=home,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: exit status 2, exactly one line on stderr, no traceback, never 'listening'."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "listening" not in result.stderr
    return lines[0]


@contextmanager
def serving(home: Path, *args: str, umask: int | None = None) -> Iterator[tuple[str, list[str]]]:
    """`idpool serve --port 0 ARGS` until the block ends; yields its URL and its log lines."""
    old = os.umask(umask) if umask is not None else None
    try:
        proc = subprocess.Popen(
            [*IDPOOL, "serve", "--port", "0", *args],
            stderr=subprocess.PIPE,
            text=True,
            env=_env(home),
            cwd=home,
        )
    finally:
        if old is not None:
            os.umask(old)
    url, lines = read_until_listening(proc)
    try:
        assert url is not None, "".join(lines)
        assert httpx.get(f"{url}/ready").status_code == 200
        yield url, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def migrated(home: Path, name: str = "db.sqlite3") -> str:
    url = f"sqlite:///{home / name}"
    result = idpool(home, "migrate", "--database-url", url)
    assert result.returncode == 0, result.stderr
    return url


# ------------------------------------------------------------------------------- the CLI


def test_version(tmp_path: Path) -> None:
    result = idpool(tmp_path, "--version")
    assert result.returncode == 0
    assert re.fullmatch(r"idpool \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.parametrize(
    ("command", "offered", "not_offered"),
    [
        (["migrate"], ["--database-url"], ["--admin-password", "--cors-origins", "--port"]),
        (["seed"], ["--database-url", "--region"], ["--admin-password", "--port"]),
        (["keys", "rotate"], ["--key-secret", "--database-url"], ["--cors-origins", "--port"]),
        (["serve"], ["--admin-password", "--cors-origins", "--pool-cache-seconds"], []),
    ],
)
def test_each_command_offers_only_its_own_options(
    tmp_path: Path, command: list[str], offered: list[str], not_offered: list[str]
) -> None:
    result = idpool(tmp_path, *command, "--help")
    assert result.returncode == 0, result.stderr
    for flag in offered:
        assert flag in result.stdout
    for flag in not_offered:
        assert flag not in result.stdout


def test_help_shows_real_defaults_once_and_no_developer_notes(tmp_path: Path) -> None:
    text = " ".join(idpool(tmp_path, "serve", "--help", COLUMNS="1000").stdout.split())
    assert "see docs" not in text
    assert "generated from" not in text and "config.Settings" not in text
    assert "(default: 4599)" in text
    assert "(default: 127.0.0.1)" in text
    assert f"(default: sqlite:///{tmp_path / 'data' / 'idpool' / 'idpool.sqlite3'})" in text
    assert "(default: on)" in text  # --throttle
    assert f"(default: generated once into {tmp_path / 'config' / 'idpool' / 'key-secret'})" in text
    options = re.split(r" (?=--[a-z])", text.split("options:", 1)[1])
    for option in options:
        assert option.count("default:") <= 1, option


def test_start_up_prints_one_line_saying_where_it_listens(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    with serving(tmp_path, "--database-url", database, "--key-secret", "k") as (url, lines):
        client = make_client(url)
        assert client.list_identity_pools(MaxResults=1)["IdentityPools"] == []
    assert len(lines) == 1, lines
    assert "; schema migrated from nothing to" in lines[0]
    assert "signing key" in lines[0] and "created" in lines[0]
    with serving(tmp_path, "--database-url", database, "--key-secret", "k") as (_, lines):
        pass
    assert len(lines) == 1 and "migrated" not in lines[0] and "created" not in lines[0], lines


# ------------------------------------------------------------- offline commands' mistakes


def test_keys_rotate_on_a_database_that_does_not_exist(tmp_path: Path) -> None:
    line = one_line_error(idpool(tmp_path, "keys", "rotate", "--database-url", "sqlite:///n.db"))
    assert line.startswith(f"idpool: there is no database at {tmp_path / 'n.db'}")
    assert "`idpool migrate --database-url sqlite:///n.db`" in line
    assert not (tmp_path / "n.db").exists()


def test_keys_rotate_on_a_database_never_migrated(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    line = one_line_error(
        idpool(tmp_path, "keys", "rotate", "--database-url", "sqlite:///empty.db")
    )
    assert line.startswith("idpool: database schema is at nothing, this idpool needs ")
    assert line.endswith(": run `idpool migrate --database-url sqlite:///empty.db` first")


@pytest.mark.postgres
def test_keys_rotate_on_a_postgresql_schema_never_migrated(tmp_path: Path) -> None:
    with postgres_schema() as url:
        line = one_line_error(idpool(tmp_path, "keys", "rotate", "--database-url", url))
    assert "run `idpool migrate --database-url" in line


def test_keys_rotate_with_the_wrong_key_secret(tmp_path: Path) -> None:
    url = migrated(tmp_path)
    first = idpool(tmp_path, "keys", "rotate", "--database-url", url, "--key-secret", "right")
    assert first.returncode == 0, first.stderr
    line = one_line_error(
        idpool(tmp_path, "keys", "rotate", "--database-url", url, "--key-secret", "wrong")
    )
    assert "the key secret changed since the key was stored" in line
    assert "--key-secret (IDPOOL_KEY_SECRET)" in line


def test_seed_with_a_missing_file(tmp_path: Path) -> None:
    line = one_line_error(idpool(tmp_path, "seed", "missing.yaml", "--database-url", "sqlite://"))
    assert line == "idpool: cannot read the seed file missing.yaml: No such file or directory"


def test_a_postgresql_url_that_does_not_answer(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://someone:hunter2@127.0.0.1:{port}/app"
    for command in (["migrate"], ["keys", "rotate"], ["serve", "--key-secret", "k"]):
        line = one_line_error(idpool(tmp_path, *command, "--database-url", url))
        assert line.startswith(
            f"idpool: cannot use the database postgresql://someone:***@127.0.0.1:{port}/app: "
        )
        assert "Connection refused" in line
        assert "hunter2" not in line


def test_a_postgresql_server_that_accepts_but_never_answers(tmp_path: Path) -> None:
    """A stalled server (the kernel accepts, nothing replies) fails within seconds, no hang."""
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen()
        url = f"postgresql://someone@127.0.0.1:{stalled.getsockname()[1]}/app"
        started = time.monotonic()
        line = one_line_error(idpool(tmp_path, "migrate", "--database-url", url))
    assert line == f"idpool: cannot use the database {url}: connection timeout expired"
    assert time.monotonic() - started < 45


def test_a_key_secret_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("")
    result = idpool(tmp_path, "serve", "--port", "0", XDG_CONFIG_HOME=str(tmp_path / "not-a-dir"))
    line = one_line_error(result)
    secret = tmp_path / "not-a-dir" / "idpool" / "key-secret"
    assert line == (
        f"idpool: cannot create the key secret {secret}: Not a directory (or pass --key-secret)"
    )


def test_a_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/idpool.sqlite3"
    for command in (["migrate"], ["serve", "--key-secret", "k"]):
        line = one_line_error(idpool(tmp_path, *command, "--database-url", url))
        assert line.startswith(f"idpool: cannot use the database {url}: ")
        assert "Not a directory" in line or "File exists" in line, line


@pytest.mark.parametrize("url", ["mysql://db/app", "localhost/idpool", ""])
def test_a_database_url_idpool_cannot_use(tmp_path: Path, url: str) -> None:
    line = one_line_error(idpool(tmp_path, "migrate", "--database-url", url))
    assert line == (
        f"idpool: cannot use --database-url {url!r}: give sqlite:///PATH or "
        "postgresql://USER@HOST/DB"
    )


# ---------------------------------------------------------------- wrong flag values


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--port", "eighty"], {}, "argument --port: expected a whole number, got 'eighty'"),
        (["--auth-mode", "Strict"], {}, "argument --auth-mode: expected one of strict, lax"),
        (["--pool-cache-seconds", "soon"], {}, "--pool-cache-seconds: expected a number"),
        (["--log-level", "loud"], {}, "--log-level: expected one of debug, info, warning, error"),
        ([], {"IDPOOL_PORT": "x"}, "idpool: IDPOOL_PORT: expected a whole number, got 'x'"),
        ([], {"IDPOOL_TRUST_MODE": "maybe"}, "IDPOOL_TRUST_MODE: expected true or false"),
        (["--port", "99999"], {}, "idpool: cannot listen on port 99999: a port is 0 to 65535"),
        (["--host", "192.0.2.1"], {}, "--host must be an address of this machine"),
        (["--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
    ],
)
def test_wrong_values_are_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    line = one_line_error(idpool(tmp_path, "serve", "--key-secret", "k", *args, **env))
    assert message in line


# ------------------------------------------------------------ a server that cannot start


def test_serve_with_the_wrong_key_secret(tmp_path: Path) -> None:
    url = migrated(tmp_path)
    assert (
        idpool(tmp_path, "keys", "rotate", "--database-url", url, "--key-secret", "a").returncode
        == 0
    )
    line = one_line_error(
        idpool(tmp_path, "serve", "--port", "0", "--database-url", url, "--key-secret", "b")
    )
    assert "the key secret changed since the key was stored" in line


def test_serve_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(idpool(tmp_path, "serve", "--port", str(port), "--key-secret", "k"))
    assert line == (
        f"idpool: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(is another server running there? choose another --port)"
    )
    assert not (tmp_path / "data").exists()  # refused before it touched the database


@pytest.mark.parametrize(
    ("flag", "content", "message"),
    [
        ("--providers-file", None, "cannot read the providers file {path}: No such file"),
        ("--providers-file", "oidc: [unclosed", "the providers file {path} is not valid YAML"),
        ("--providers-file", "- a list", "the providers file {path} must be a YAML mapping"),
        ("--credentials-file", None, "{path}: cannot read credentials file"),
        ("--credentials-file", "- {access_key_id: A}", "{path}: entry 0 is missing"),
        ("--seed-file", None, "cannot read the seed file {path}: No such file"),
    ],
)
def test_serve_with_a_file_it_cannot_use(
    tmp_path: Path, flag: str, content: str | None, message: str
) -> None:
    path = tmp_path / "file.yaml"
    if content is not None:
        path.write_text(content)
    line = one_line_error(
        idpool(tmp_path, "serve", "--port", "0", "--key-secret", "k", flag, str(path))
    )
    assert message.format(path=path) in line


def test_serve_with_an_unreadable_providers_file(tmp_path: Path) -> None:
    """A path that exists but cannot be read as a file (here a directory: root reads any file)."""
    line = one_line_error(
        idpool(tmp_path, "serve", "--port", "0", "--key-secret", "k", "--providers-file", ".")
    )
    assert line == "idpool: cannot read the providers file .: Is a directory"


# ----------------------------------------------------------- where files go, and their modes


def test_relative_sqlite_url_keeps_the_key_secret_out_of_the_working_directory(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "--database-url", "sqlite:///relative.db") as (url, lines):
        assert make_client(url).list_identity_pools(MaxResults=1)["IdentityPools"] == []
    secret = tmp_path / "config" / "idpool" / "key-secret"
    assert sorted(p.name for p in tmp_path.iterdir() if "relative" not in p.name) == ["config"], (
        list(tmp_path.iterdir())
    )
    assert secret.exists()
    assert f"key secret generated into {secret}" in lines[0]
    assert f"store sqlite {tmp_path / 'relative.db'}" in lines[0]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_files_and_the_key_secret_are_private_from_the_start(tmp_path: Path) -> None:
    # A permissive umask: the modes must come from idpool, not from the caller's umask.
    with serving(tmp_path, umask=0o022) as (url, lines):
        make_client(url).create_identity_pool(
            IdentityPoolName="modes", AllowUnauthenticatedIdentities=True
        )
        data = tmp_path / "data" / "idpool"
        database = data / "idpool.sqlite3"
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert path.exists(), path
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
        assert _mode(data) == 0o700
        secret = tmp_path / "config" / "idpool" / "key-secret"
        assert _mode(secret) == 0o600
        assert _mode(secret.parent) == 0o700
        assert secret.parent != data  # a copy of the data directory cannot decrypt the keys
    assert not any("warning" in line for line in lines), lines


def test_a_key_secret_beside_the_database_is_used_with_a_warning(tmp_path: Path) -> None:
    """An older idpool generated `key-secret` beside the database; it still opens its keys."""
    url = migrated(tmp_path)
    (tmp_path / "key-secret").write_text("old-secret\n")
    rotated = idpool(
        tmp_path, "keys", "rotate", "--database-url", url, "--key-secret", "old-secret"
    )
    assert rotated.returncode == 0, rotated.stderr
    (tmp_path / "db.sqlite3").chmod(0o644)
    with serving(tmp_path, "--database-url", url) as (_, lines):
        pass
    text = "".join(lines)
    assert f"the key secret {tmp_path / 'key-secret'} is in the database's directory" in text
    assert f"the database {tmp_path / 'db.sqlite3'} is readable by other users" in text
    assert not (tmp_path / "config" / "idpool" / "key-secret").exists()
