"""The operator's view of refused browsers and of every request (issue 19 §2).

`idpool serve` runs as its own process, as an operator starts it, and the test reads what it
wrote on standard error: start-up warnings about CORS entries that were not exact origins, a
refused preflight explained at info, and the per-request access line that `--access-log`
switches on at info level (and that stays off without it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_client
from tests.e2e.test_observability import _unsigned_jwt
from tests.support.serve_process import ServerProcess, idpool_serve


@contextmanager
def serve(tmp_path: Path, *flags: str) -> Iterator[ServerProcess]:
    with idpool_serve(
        f"--database-url=sqlite:///{tmp_path / 'edge.sqlite3'}",
        "--trust-mode",
        "--key-secret=edge-test-key-secret",
        "--no-throttle",
        *flags,
    ) as server:
        yield server


def _records(server: ServerProcess) -> list[dict[str, Any]]:
    server.process.terminate()
    server.process.wait(10)
    return [json.loads(line) for line in server.lines if line.startswith("{")]


def _preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-amz-target",
        },
        timeout=10,
    )


def test_cors_entries_are_normalised_and_refusals_explained(tmp_path: Path) -> None:
    origins = ",".join(
        [
            "http://App.Example.com:5281/",  # trailing slash and capitals
            "https://b.example:443/app",  # default port and a path
            "c.example:8080",  # no scheme: cannot be guessed
            "http://d.example:8081",  # exact already
        ]
    )
    with serve(tmp_path, f"--cors-origins={origins}") as server:
        allowed = _preflight(server.url, "http://app.example.com:5281")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "http://app.example.com:5281"
        assert _preflight(server.url, "https://b.example").status_code == 200
        assert _preflight(server.url, "http://d.example:8081").status_code == 200
        for origin in ["http://app.example.com", "http://c.example:8080", "https://evil.example"]:
            refused = _preflight(server.url, origin)
            assert refused.status_code == 403, origin
            assert "access-control-allow-origin" not in refused.headers
        records = _records(server)

    warnings = [
        r["msg"] for r in records if r["level"] == "warning" and r["logger"] == "idpool.cors"
    ]
    assert any(
        "'http://App.Example.com:5281/'" in w and "http://app.example.com:5281" in w
        for w in warnings
    )
    assert any("'https://b.example:443/app' has a path" in w for w in warnings)
    assert any("'c.example:8080' has no scheme" in w for w in warnings)
    assert not any("d.example" in w for w in warnings)

    refusals = [r for r in records if r["msg"].startswith("CORS preflight refused")]
    assert [r["level"] for r in refusals] == ["info"] * 3
    by_origin = {r["origin"]: r for r in refusals}
    assert set(by_origin) == {
        "http://app.example.com",
        "http://c.example:8080",
        "https://evil.example",
    }
    near = by_origin["http://app.example.com"]
    assert near["requested_method"] == "POST"
    assert near["requested_headers"] == "content-type,x-amz-target"
    assert "http://app.example.com:5281" in near["hint"]
    assert "hint" not in by_origin["https://evil.example"]


def test_repeated_refusals_are_logged_once_a_minute(tmp_path: Path) -> None:
    with serve(tmp_path, "--cors-origins=https://app.example") as server:
        for _ in range(20):
            assert _preflight(server.url, "https://evil.example").status_code == 403
        records = _records(server)
    assert len([r for r in records if r["msg"].startswith("CORS preflight refused")]) == 1


def _traffic(url: str) -> tuple[str, str]:
    cognito = make_client(url)
    unsigned = make_client(url, signed=False)
    token = _unsigned_jwt({"sub": "access-log-user"})
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="access",
        AllowUnauthenticatedIdentities=True,
        SupportedLoginProviders={"accounts.google.com": "access-app"},
    )["IdentityPoolId"]
    unsigned.get_id(IdentityPoolId=pool_id, Logins={"accounts.google.com": token})
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.describe_identity_pool(
            IdentityPoolId="us-east-1:00000000-0000-4000-8000-000000000000"
        )
    return pool_id, token


def test_access_log_at_info_names_each_request_and_no_secret(tmp_path: Path) -> None:
    with serve(tmp_path, "--access-log", "--log-level=info") as server:
        _, token = _traffic(server.url)
        records = _records(server)
    lines = [r for r in records if r["logger"] == "idpool.request"]
    assert [(r["operation"], r["status"], r.get("error")) for r in lines] == [
        ("CreateIdentityPool", 200, None),
        ("GetId", 200, None),
        ("DescribeIdentityPool", 400, "ResourceNotFoundException"),
    ]
    for line in lines:
        assert line["level"] == "info"
        assert line["method"] == "POST"
        assert line["account"] == "000000000000"
        assert line["latency_ms"] >= 0
        assert line["request_id"]
    output = "".join(server.lines)
    assert token not in output
    assert token.rsplit(".", 1)[1] not in output


def test_without_the_switch_info_level_has_no_request_lines(tmp_path: Path) -> None:
    with serve(tmp_path, "--log-level=info") as server:
        _traffic(server.url)
        records = _records(server)
    assert not [r for r in records if r["logger"] == "idpool.request"]
    assert any("listening on" in r["msg"] for r in records)
