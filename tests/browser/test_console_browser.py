"""The admin console in a real browser: Debian's chromium driven by playwright-core.

`scripts/setup-browser` installs chromium with apt and playwright-core from the lockfile
(never a downloaded browser); the test skips only when this machine cannot provide them.
`console.mjs` signs in, opens a pool, searches an identity, deletes one after confirming
and screenshots each page; this side checks the pages' text and the screenshots.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.conftest import ROOT, make_client
from tests.e2e.console_server import ADMIN_PASSWORD, ADMIN_USER, console_server

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = [pytest.mark.node, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def browser_ready() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the browser test drives chromium from node")
    setup = subprocess.run(
        [str(ROOT / "scripts" / "setup-browser")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if setup.returncode == 3:
        pytest.skip(f"no browser on this machine: {setup.stderr.strip()}")
    assert setup.returncode == 0, f"scripts/setup-browser failed:\n{setup.stderr}"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _run_browser(payload: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        ["node", str(HERE / "console.mjs"), json.dumps(payload)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"browser run failed:\n{result.stderr}"
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_console_in_chromium(browser_ready: None, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'browser.sqlite3'}"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with console_server(database_url) as server:
        cognito = make_client(server.url)
        unsigned = make_client(server.url, signed=False)
        name = f"browser_{uuid.uuid4().hex[:6]}"
        pool_id = cognito.create_identity_pool(
            IdentityPoolName=name,
            AllowUnauthenticatedIdentities=True,
            SupportedLoginProviders={"accounts.google.com": "browser-app"},
            DeveloperProviderName="login.browser.test",
        )["IdentityPoolId"]
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={"authenticated": "arn:aws:iam::123456789012:role/browser-auth"},
        )
        subject = "alice@example.com"
        identity = unsigned.get_id(IdentityPoolId=pool_id, Logins={"accounts.google.com": subject})[
            "IdentityId"
        ]
        cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool_id, Logins={"login.browser.test": "dev-user-42"}
        )
        guest = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]

        out = _run_browser(
            {
                "baseUrl": server.url,
                "user": ADMIN_USER,
                "password": ADMIN_PASSWORD,
                "poolName": name,
                "poolId": pool_id,
                "search": subject,
                "identityId": identity,
                "guestId": guest,
                "screenshots": str(shots),
            }
        )
        with pytest.raises(cognito.exceptions.ResourceNotFoundException):
            cognito.describe_identity(IdentityId=guest)

    pages = out["pages"]
    assert pages["unauthenticated"]["status"] == 401
    assert "Sign in" in pages["login"]["text"]
    assert name in pages["pools"]["text"]
    assert pool_id in pages["pools"]["text"]
    assert "arn:aws:iam::123456789012:role/browser-auth" in pages["pool"]["text"]
    assert identity in pages["search"]["text"]
    assert subject in pages["search"]["text"]
    assert guest not in pages["search"]["text"]
    assert unquote(pages["identity"]["url"]).endswith(identity)
    assert "accounts.google.com" in pages["identity"]["text"]
    assert "Delete this identity?" in pages["confirm"]["text"]
    assert guest in pages["confirm"]["text"]
    assert "The identity was deleted." in pages["deleted"]["text"]
    assert "active" in pages["keys"]["text"]

    names = {Path(p).stem for p in out["screenshots"]}
    assert names == {"login", "pools", "pool", "search", "identity", "confirm", "deleted", "keys"}
    for path in map(Path, out["screenshots"]):
        width, height = _png_size(path)
        assert width >= 1000
        assert height >= 300
        assert path.stat().st_size > 10_000, f"{path.name} looks blank"
