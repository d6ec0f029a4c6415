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
import zlib
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


def _png_pixels(path: Path) -> list[tuple[int, int, int]]:
    """The RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what chromium writes)."""
    data = path.read_bytes()
    width, height = _png_size(path)
    depth, color, interlace = data[24], data[25], data[28]
    assert (depth, interlace) == (8, 0) and color in (2, 6), "unexpected PNG format"
    channels = 4 if color == 6 else 3
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[i] = (row[i] + pred) & 255
        rows.append(row)
        previous = row
    return [(row[x], row[x + 1], row[x + 2]) for row in rows for x in range(0, stride, channels)]


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
        # Activity for the charts: more guests, credentials (a role), a disabled identity and
        # a failed call.
        for _ in range(3):
            unsigned.get_id(IdentityPoolId=pool_id)
        unsigned.get_credentials_for_identity(
            IdentityId=identity, Logins={"accounts.google.com": subject}
        )
        dev = cognito.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool_id, Logins={"login.browser.test": "dev-user-43"}
        )["IdentityId"]
        cognito.unlink_developer_identity(
            IdentityId=dev,
            IdentityPoolId=pool_id,
            DeveloperProviderName="login.browser.test",
            DeveloperUserIdentifier="dev-user-43",
        )
        with pytest.raises(cognito.exceptions.ResourceNotFoundException):
            cognito.describe_identity_pool(IdentityPoolId=f"us-east-1:{uuid.uuid4()}")

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

    charts = pages["charts"]
    assert "window=hour" in charts["url"]
    drawn = {svg["chart"]: svg for svg in charts["svgs"]}
    assert list(drawn) == ["identities", "roles", "calls", "operations"]
    for svg in drawn.values():
        assert svg["width"] >= 300 and svg["height"] >= 30, svg
        assert svg["bars"] >= 1, f"{svg['chart']} drew no bars"
    flat = " ".join(charts["text"].split())
    assert "new guests 4 new authenticated 3 disabled or merged 1" in flat
    assert "browser-auth" in charts["text"]
    # The screenshot shows the bars: the series colours of console.css are on screen.
    pixels = _png_pixels(shots / "charts.png")
    colours = {
        "new guests": (0x9D, 0xB4, 0xE0),
        "new authenticated": (0x24, 0x57, 0xC5),
        "disabled or merged": (0xD9, 0x82, 0x2B),
        "calls": (0x5B, 0x7F, 0xCF),
        "errors": (0xB4, 0x23, 0x18),
    }
    seen = {name: pixels.count(rgb) for name, rgb in colours.items()}
    assert all(count >= 30 for count in seen.values()), seen

    names = {Path(p).stem for p in out["screenshots"]}
    assert names == {
        "login",
        "pools",
        "pool",
        "charts",
        "search",
        "identity",
        "confirm",
        "deleted",
        "keys",
    }
    for path in map(Path, out["screenshots"]):
        width, height = _png_size(path)
        if path.stem == "charts":  # the section alone, not the whole page
            assert width >= 600 and height >= 300
            continue
        assert width >= 1000
        assert height >= 300
        assert path.stat().st_size > 10_000, f"{path.name} looks blank"
