"""The providers file reloads in a running server: when it changes, and on SIGHUP."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROOT, make_client
from tests.e2e.test_client_amplify_user_pool import identity_pool_for, make_user_pool, sign_in
from tests.e2e.test_pools import error_of
from tests.support.live import LiveServer, live_server, settings_for_tests
from tests.support.sts import moto_sts

CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused


def write(path: Path, text: str) -> None:
    aside = path.with_suffix(".tmp")
    aside.write_text(text)
    os.replace(aside, path)


def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy; the watcher looks every second."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_sts() as url:
        yield url


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    providers = tmp_path / "providers.yaml"
    providers.write_text(f"user_pool_endpoint: {CLOSED}\n")
    settings = settings_for_tests(
        f"sqlite:///{tmp_path / 'idpool.sqlite3'}",
        trust_mode=False,
        providers_file=str(providers),
        providers_reload_seconds=1,
    )
    with live_server(settings) as live:
        yield live, providers


def test_file_change_applies_without_restart_and_bad_files_are_kept_out(
    watched: tuple[LiveServer, Path], moto_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, providers = watched
    caplog.set_level(logging.INFO, logger="idpool.providers")
    pool = make_user_pool(moto_url, "reloaded")
    identity_pool = identity_pool_for(server, pool)
    public: Any = make_client(server.url, signed=False)
    token = sign_in(moto_url, pool, "alice")["IdToken"]

    def get_id() -> Any:
        return public.get_id(IdentityPoolId=identity_pool, Logins={pool.key: token})

    # Before: the emulator address is wrong. The error names the provider, not the address.
    with pytest.raises(ClientError) as exc:
        get_id()
    code, message, _ = error_of(exc)
    assert code == "ExternalServiceException"
    assert pool.key in message
    assert "127.0.0.1:9" not in message

    write(providers, f"user_pool_endpoint: {moto_url}\n")

    def works() -> str | None:
        try:
            return str(get_id()["IdentityId"])
        except ClientError:
            return None

    identity_id = eventually(works, "the reloaded providers file")
    assert any(
        "reloaded (file changed): user_pool_endpoint" in m and moto_url in m
        for m in caplog.messages
    )

    # A broken file is refused with a reason; the running configuration keeps working.
    write(providers, "user_pool_endpoint: [not, a, url]\n")
    eventually(
        lambda: any("not reloaded (file changed)" in m for m in caplog.messages),
        "the refusal of the bad file",
    )
    assert get_id()["IdentityId"] == identity_id


IDPOOL = [sys.executable, "-m", "idpool"]


def test_sighup_reloads_the_file(tmp_path: Path) -> None:
    providers = tmp_path / "providers.yaml"
    providers.write_text("leeway_seconds: 30\n")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path), "IDPOOL_KEY_SECRET": "cli-test"}
    proc = subprocess.Popen(
        [
            *IDPOOL,
            "serve",
            "--port",
            "0",
            "--providers-file",
            str(providers),
            "--providers-reload-seconds",
            "0",  # no watcher: only the signal can reload
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stderr is not None
    lines: list[str] = []

    def read_until(fragment: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stderr.readline() if proc.stderr else ""
            if not line:
                break
            lines.append(line)
            if fragment in line:
                return dict(json.loads(line))
        raise AssertionError(f"no {fragment!r} in:\n{''.join(lines)}")

    try:
        listening = read_until("idpool listening on ")["msg"]
        url = listening.split("idpool listening on ", 1)[1].split(" ", 1)[0]
        eventually(lambda: httpx.get(f"{url}/ready").status_code == 200, "readiness")
        write(providers, "leeway_seconds: 45\nuser_pool_endpoint: http://127.0.0.1:4566\n")
        proc.send_signal(signal.SIGHUP)
        reloaded = read_until("reloaded (SIGHUP)")
        assert reloaded["level"] == "info"
        assert reloaded["msg"] == (
            f"{providers} reloaded (SIGHUP): leeway_seconds: 30 -> 45; "
            "user_pool_endpoint: None -> 'http://127.0.0.1:4566'"
        )
        write(providers, "leeway_seconds: lots\n")
        proc.send_signal(signal.SIGHUP)
        refused = read_until("not reloaded (SIGHUP)")
        assert refused["level"] == "error"
        assert "providers.leeway_seconds" in refused["msg"]
        # Still serving: SIGHUP neither stopped the server nor broke it.
        assert httpx.get(f"{url}/ready").status_code == 200
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
