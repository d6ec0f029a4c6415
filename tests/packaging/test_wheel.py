"""The wheel stands alone: built with `python -m build`, installed into a fresh virtualenv
outside the repository (dependencies resolved by pip, from its cache when warm), its `idpool
serve` migrates a new SQLite store, answers API calls and serves the console's assets.

Nothing from the source tree is importable there: the venv has no site packages of ours and
runs in a temporary directory, so a missing migration, template or `py.typed` fails here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, make_client
from tests.support.serve_process import LISTENING

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(600)]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_wheel_installs_alone_and_serves(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # sdist first, then the wheel from the unpacked sdist (build's default): this also proves
    # the sdist is complete, and leaves no build/ directory in the repository.
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=tmp_path)
    (wheel,) = dist.glob("idpool-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # A normal install: pip resolves every dependency (its cache makes this quick).
    _run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)

    installed = Path(
        _run(
            python, "-c", "import idpool, os; print(os.path.dirname(idpool.__file__))", cwd=tmp_path
        ).strip()
    )
    assert ROOT not in installed.parents
    assert (installed / "py.typed").exists()
    assert list((installed / "storage" / "migrations" / "versions").glob("0001_*.py"))
    assert (installed / "server" / "console_assets" / "console.css").exists()
    assert "idpool" in _run(env_dir / "bin" / "idpool", "--version", cwd=tmp_path)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDPOOL_", "PYTHON"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    proc = subprocess.Popen(
        [env_dir / "bin" / "idpool", "serve", "--port", "0", "--admin-password", "pw"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = LISTENING.search(line)
        assert found, line + (proc.stderr.read() if proc.poll() is not None else "")
        url = found.group(1)
        assert "schema migrated from nothing to" in line
        for _ in range(100):
            if httpx.get(f"{url}/ready").status_code == 200:
                break
            time.sleep(0.05)
        client = make_client(url)
        pool = client.create_identity_pool(
            IdentityPoolName="from-the-wheel", AllowUnauthenticatedIdentities=True
        )["IdentityPoolId"]
        identity = make_client(url, signed=False).get_id(IdentityPoolId=pool)["IdentityId"]
        assert identity.startswith("us-east-1:")
        assert (tmp_path / "data" / "idpool" / "idpool.sqlite3").exists()
        css = httpx.get(f"{url}/console/static/console.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        login = httpx.get(f"{url}/console/login")
        assert login.status_code == 200 and "<form" in login.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
