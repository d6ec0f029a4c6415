"""`idpool serve`, `migrate`, `seed` and `keys rotate` as a user runs them: real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, make_client
from tests.support.postgres import postgres_schema
from tests.support.serve_process import read_until_listening

IDPOOL = [sys.executable, "-m", "idpool"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*IDPOOL, *args], check=False, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
    )


@contextmanager
def serving(*args: str, home: Path) -> Iterator[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(home), "IDPOOL_KEY_SECRET": "cli-test"}
    proc = subprocess.Popen(
        [*IDPOOL, "serve", "--port", "0", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    url, lines = read_until_listening(proc)
    try:
        assert url is not None, "".join(lines)
        for _ in range(100):
            try:
                if httpx.get(f"{url}/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    with serving(home=tmp_path) as url:
        client = make_client(url)
        pool = client.create_identity_pool(
            IdentityPoolName="durable", AllowUnauthenticatedIdentities=True
        )["IdentityPoolId"]
        identity = make_client(url, signed=False).get_id(IdentityPoolId=pool)["IdentityId"]
        first_keys = httpx.get(f"{url}/.well-known/jwks_uri").json()["keys"]
    assert (tmp_path / "idpool" / "idpool.sqlite3").exists()
    with serving(home=tmp_path) as url:
        client = make_client(url)
        assert client.describe_identity_pool(IdentityPoolId=pool)["IdentityPoolName"] == "durable"
        assert client.describe_identity(IdentityId=identity)["IdentityId"] == identity
        assert httpx.get(f"{url}/.well-known/jwks_uri").json()["keys"] == first_keys


def test_seed_file_and_key_rotation(tmp_path: Path) -> None:
    seed = str(ROOT / "examples" / "dev-seed.yaml")
    database = f"sqlite:///{tmp_path / 'seeded.sqlite3'}"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "IDPOOL_KEY_SECRET": "cli-test"}
    seeded = run("seed", seed, "--database-url", database, env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "us-east-1:11111111-1111-4111-8111-111111111111" in seeded.stdout
    with serving("--database-url", database, "--seed-file", seed, home=tmp_path) as url:
        client: Any = make_client(
            url,
            aws_access_key_id="AKIAIDPOOLDEV0000001",
            aws_secret_access_key="dev-secret-do-not-use-in-production",
        )
        pools = client.list_identity_pools(MaxResults=60)["IdentityPools"]
        assert {p["IdentityPoolName"] for p in pools} == {"web app guests", "staff"}
        before = httpx.get(f"{url}/.well-known/jwks_uri").json()["keys"]
    rotated = run("keys", "rotate", "--database-url", database, env=env)
    assert rotated.returncode == 0, rotated.stderr
    with serving("--database-url", database, home=tmp_path) as url:
        after = httpx.get(f"{url}/.well-known/jwks_uri").json()["keys"]
    assert len(after) == len(before) + 1
    assert {k["kid"] for k in before} < {k["kid"] for k in after}


def test_bad_seed_file_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pools:\n  - IdentityPoolName: x\n")
    result = run("seed", str(bad), "--database-url", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert result.returncode == 2
    assert f"{bad}:2: a pool needs 'AllowUnauthenticatedIdentities'" in result.stderr


def test_postgres_schema_must_be_migrated_first(tmp_path: Path) -> None:
    with postgres_schema() as url:
        refused = run("serve", "--port", "0", "--database-url", url, "--key-secret", "k")
        assert refused.returncode == 2
        assert "run `idpool migrate`" in refused.stderr
        migrated = run("migrate", "--database-url", url)
        assert migrated.returncode == 0, migrated.stderr
        assert "schema at revision" in migrated.stdout
        with serving("--database-url", url, home=tmp_path) as served:
            client = make_client(served)
            assert client.list_identity_pools(MaxResults=5)["IdentityPools"] == []


def test_help_lists_every_flag() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0
    for flag in ("--database-url", "--auth-mode", "--trust-mode", "--seed-file", "--issuer-url"):
        assert flag in result.stdout


def test_strict_mode_with_a_credentials_file(tmp_path: Path) -> None:
    creds = tmp_path / "keys.yaml"
    creds.write_text(
        "- access_key_id: AKIASTRICT0000000001\n  secret_access_key: s3cret\n"
        '  account_id: "123456789012"\n'
    )
    with serving("--auth-mode", "strict", "--credentials-file", str(creds), home=tmp_path) as url:
        good = make_client(
            url, aws_access_key_id="AKIASTRICT0000000001", aws_secret_access_key="s3cret"
        )
        assert good.list_identity_pools(MaxResults=1)["IdentityPools"] == []
        bad = make_client(url, aws_access_key_id="AKIASTRICT0000000001", aws_secret_access_key="x")
        with pytest.raises(bad.exceptions.ClientError) as exc:
            bad.list_identity_pools(MaxResults=1)
        assert exc.value.response["Error"]["Code"] == "InvalidSignatureException"
