"""A request body has one deadline in total, not one per chunk.

A client that dribbles a byte every fraction of a second never lets a per-chunk timeout
fire, and so could hold a connection (and its slot under the connection limit) for ever.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.support import api_headers
from tests.support.live import LiveServer, live_server, settings_for_tests

BODY_TIMEOUT = 1.0  # --body-timeout-seconds of the server under test
DRIBBLE_INTERVAL = 0.25  # one byte this often: far inside the timeout, chunk after chunk
BODY_LENGTH = 60  # 15 s of dribbling: the server must answer long before the end


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path / 'idpool.sqlite3'}"
    with live_server(settings_for_tests(url, body_timeout_seconds=BODY_TIMEOUT)) as live:
        yield live


def test_a_dribbled_body_is_answered_408_at_the_total_deadline(server: LiveServer) -> None:
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n"
        "X-Amz-Target: AWSCognitoIdentityService.ListIdentityPools\r\n"
        f"Content-Length: {BODY_LENGTH}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode())
        started = time.monotonic()
        sent = 0
        while sent < BODY_LENGTH:
            sock.sendall(b" ")
            sent += 1
            readable, _, _ = select.select([sock], [], [], DRIBBLE_INTERVAL)
            if readable:
                break
        took = time.monotonic() - started
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert sent < BODY_LENGTH, "the server waited for the whole dribbled body"
    assert took < BODY_TIMEOUT + 3.0, took
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", answer[:300]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower(), headers
    assert b"x-amzn-errortype: RequestTimeoutException:" in headers, headers
    assert json.loads(body) == {
        "__type": "RequestTimeoutException",
        "message": "The request body arrived too slowly.",
    }
    # The server is none the worse for it.
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200


def test_a_body_in_many_chunks_inside_the_deadline_is_served(server: LiveServer) -> None:
    body = json.dumps({"MaxResults": 10}).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(len(body)):
            time.sleep(BODY_TIMEOUT / (4 * len(body)))
            yield body[i : i + 1]

    response = httpx.post(
        f"{server.url}/",
        content=chunks(),
        headers=api_headers(server.url, "ListIdentityPools", body),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"IdentityPools": []}
