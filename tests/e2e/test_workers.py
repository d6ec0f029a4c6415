"""`idpool serve --workers 2` as an operator runs it: one port, two processes, one server.

Every request goes over a fresh connection, so the kernel hands it to whichever worker
accepts first; `idpool_worker_requests` (per worker pid, read from the workers' own metric
files) says who answered. What was per process must behave as in one process: the metrics
are the sum over the workers, the rate quota is one quota, a pool change is seen by every
worker at once, a console sign-out holds everywhere, and a killed worker is replaced.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.console_server import csrf_of
from tests.reliability.support import ServerProcess, call

ACCOUNT = "AKIAWORKERS000000001"
PASSWORD = "workers-console-password"
_SAMPLE = re.compile(r"^(idpool_\w+)(?:\{([^}]*)\})? (\S+)$", re.MULTILINE)
_STARTED = re.compile(r"worker (\d+) started \(pid (\d+)\)")


def metrics(url: str) -> dict[str, dict[str, float]]:
    """{metric: {labels: value}} of one /metrics answer."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found: dict[str, dict[str, float]] = {}
    for name, labels, value in _SAMPLE.findall(text):
        found.setdefault(name, {})[labels] = float(value)
    return found


def per_worker(url: str) -> dict[str, float]:
    return {
        labels.split('"')[1]: value
        for labels, value in metrics(url).get("idpool_worker_requests", {}).items()
    }


def fresh(url: str, operation: str, params: dict[str, Any]) -> httpx.Response:
    """One API call on a connection of its own."""
    with httpx.Client(base_url=url, timeout=20) as client:
        return call(client, operation, params, access_key=ACCOUNT)


def until_both_served(url: str, operation: str, params: dict[str, Any]) -> list[httpx.Response]:
    """Repeat the call on fresh connections until both workers answered at least one."""
    before = per_worker(url)
    answers = []
    for _ in range(200):
        answers.append(fresh(url, operation, params))
        after = per_worker(url)
        served = [pid for pid, n in after.items() if n > before.get(pid, 0)]
        if len(served) >= 2 and len(answers) >= 4:
            return answers
    raise AssertionError(f"one worker answered everything: {per_worker(url)}")


def new_pool(url: str, **options: Any) -> str:
    with httpx.Client(base_url=url, timeout=20) as client:
        created = call(
            client,
            "CreateIdentityPool",
            {"IdentityPoolName": "workers", "AllowUnauthenticatedIdentities": True, **options},
            access_key=ACCOUNT,
        )
    assert created.status_code == 200, created.text
    return str(created.json()["IdentityPoolId"])


@contextmanager
def two_workers(tmp_path: Path, *extra: str) -> Iterator[ServerProcess]:
    server = ServerProcess(
        f"sqlite:///{tmp_path / 'workers.sqlite3'}",
        tmp_path,
        extra=[
            "--workers",
            "2",
            # Long enough that a worker answering from a stale cache could not go unnoticed.
            "--pool-cache-seconds",
            "60",
            "--admin-password",
            PASSWORD,
            *extra,
        ],
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[ServerProcess]:
    with two_workers(tmp_path) as server:
        yield server


def test_both_workers_serve_and_metrics_are_their_sum(workers: ServerProcess) -> None:
    url = workers.url
    before = metrics(url).get("idpool_requests_total", {})
    answers = until_both_served(url, "ListIdentityPools", {"MaxResults": 5})
    assert all(a.status_code == 200 for a in answers)
    after = metrics(url)
    key = 'code="OK",operation="ListIdentityPools"'
    grew = after["idpool_requests_total"].get(key, 0) - before.get(key, 0)
    assert grew == len(answers), after["idpool_requests_total"]
    shares = per_worker(url)
    assert len([n for n in shares.values() if n > 0]) == 2, shares
    assert sum(shares.values()) == sum(after["idpool_requests_total"].values())
    # The latency histogram is summed too: one observation per answered call.
    count = after["idpool_request_seconds_count"]['operation="ListIdentityPools"']
    assert count >= len(answers)
    assert after["idpool_store_writable"][""] == 1.0


def test_the_rate_quota_is_one_quota_across_workers(tmp_path: Path) -> None:
    # Quotas on, divided as for 250 replicas: GetId gets 0.1/s and a burst of one.
    with two_workers(tmp_path, "--throttle", "--replicas", "250") as server:
        pool_id = new_pool(server.url)
        started = time.monotonic()
        answers = until_both_served(server.url, "GetId", {"IdentityPoolId": pool_id})
        elapsed = time.monotonic() - started
    admitted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert {a.json()["__type"] for a in refused} == {"TooManyRequestsException"}
    # One burst token plus 0.1 per second of refill, whichever worker answered; buckets of
    # their own would have admitted one call per worker.
    assert 1 <= len(admitted) <= 1 + int(elapsed * 0.1), (len(admitted), elapsed)


def test_a_pool_change_is_seen_by_every_worker_at_once(workers: ServerProcess) -> None:
    pool_id = new_pool(workers.url)
    guest = fresh(workers.url, "GetId", {"IdentityPoolId": pool_id}).json()["IdentityId"]
    # GetOpenIdToken answers from the pool cache: warm it in both workers.
    warm = until_both_served(workers.url, "GetOpenIdToken", {"IdentityId": guest})
    assert all(a.status_code == 200 for a in warm)
    changed = fresh(
        workers.url,
        "UpdateIdentityPool",
        {
            "IdentityPoolId": pool_id,
            "IdentityPoolName": "workers",
            "AllowUnauthenticatedIdentities": False,
        },
    )
    assert changed.status_code == 200, changed.text
    # A worker answering from its 60-second cache would still hand the guest a token.
    answers = until_both_served(workers.url, "GetOpenIdToken", {"IdentityId": guest})
    assert {a.json()["__type"] for a in answers} == {"NotAuthorizedException"}


def test_signing_keys_are_the_same_in_every_worker(workers: ServerProcess) -> None:
    documents = {httpx.get(f"{workers.url}/.well-known/jwks_uri").text for _ in range(12)}
    assert len(documents) == 1
    assert len(httpx.get(f"{workers.url}/.well-known/jwks_uri").json()["keys"]) == 1


def test_a_console_sign_out_holds_in_every_worker(workers: ServerProcess) -> None:
    with httpx.Client(base_url=workers.url, timeout=10) as browser:
        signed_in = browser.post(
            "/console/login",
            data={"username": "admin", "password": PASSWORD, "next": "/console/pools"},
        )
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get("/console/pools")
        cookie = browser.cookies["idpool_console"]
        assert browser.post("/console/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    # Twelve fresh connections land on both workers; a sign-out list per process would let
    # every replay that reached the other worker in.
    for _ in range(12):
        with httpx.Client(base_url=workers.url, timeout=10) as replay:
            replay.cookies.set("idpool_console", cookie)
            assert replay.get("/console/pools").status_code == 401


def test_a_killed_worker_is_replaced_and_sigterm_stops_everything(
    workers: ServerProcess,
) -> None:
    started = dict(_STARTED.findall(workers.log()))
    assert set(started) == {"0", "1"}, workers.log()[-2000:]
    victim = int(started["0"])
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        replaced = [pid for index, pid in _STARTED.findall(workers.log()) if index == "0"]
        if len(replaced) == 2:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"worker 0 was not replaced:\n{workers.log()[-2000:]}")
    assert "exited with -9" in workers.log()
    newcomer = int(replaced[1])
    pool_id = new_pool(workers.url)
    answers = until_both_served(workers.url, "DescribeIdentityPool", {"IdentityPoolId": pool_id})
    assert all(a.status_code == 200 for a in answers)
    assert str(newcomer) in per_worker(workers.url)

    survivor = int(started["1"])
    assert workers.process is not None
    workers.process.send_signal(signal.SIGTERM)
    assert workers.process.wait(timeout=40) == 0
    for pid in (newcomer, survivor):
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), (
            f"worker {pid} outlived the server"
        )


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False


def test_a_negative_worker_count_is_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "idpool",
            "serve",
            "--workers",
            "-1",
            "--port",
            "0",
            "--database-url",
            f"sqlite:///{tmp_path / 'x.sqlite3'}",
            "--key-secret",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "idpool: --workers must be 0 (one per CPU) or more, not -1"
