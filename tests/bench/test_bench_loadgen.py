"""The load generator's HTTP client, closed loop and scenario setup against a tiny fake server.

The fake speaks just enough AWS JSON 1.1 (by X-Amz-Target) to exercise keep-alive, servers that
close after every response (moto's Werkzeug does), chunked bodies, AWS error accounting and the
rule that an unsupported operation skips a scenario instead of crashing it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httptools
import orjson
import pytest

from bench.client import Endpoint, HttpConnection
from bench.loadgen import LoadSpec, run_load
from bench.scenarios import SCENARIOS, Context, Options, Skip
from bench.wire import Api, Credentials, RequestBuilder
from bench.workloads import FixedRequests

T = TypeVar("T")
HTML_500 = b"<!doctype html><title>500 Internal Server Error</title>"


class FakeCognito(asyncio.Protocol):
    """Answers by operation; `style` picks the framing of successful responses."""

    counter = itertools.count()

    def __init__(self, style: str, throttle_every: int) -> None:
        self.style = style
        self.throttle_every = throttle_every
        self.parser = httptools.HttpRequestParser(self)
        self.target = ""
        self.body = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-amz-target":
            self.target = value.decode().rsplit(".", 1)[-1]

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        number = next(self.counter)
        status, payload = self.answer(number)
        self.body = b""
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\n"
        if self.style == "chunked" and status == 200:
            half = len(payload) // 2
            chunks = [payload[:half], payload[half:]]
            encoded = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
            self.transport.write((head + "Transfer-Encoding: chunked\r\n\r\n").encode() + encoded)
            return
        close = self.style == "close"
        head += f"Content-Length: {len(payload)}\r\n" + ("Connection: close\r\n" if close else "")
        self.transport.write(head.encode() + b"\r\n" + payload)
        if close:
            self.transport.close()

    def answer(self, number: int) -> tuple[int, bytes]:
        if self.throttle_every and number % self.throttle_every == 0:
            error = {"__type": "com.amazon#TooManyRequestsException", "message": "Rate exceeded"}
            return 400, orjson.dumps(error)
        if self.target == "CreateIdentityPool":
            return 200, b'{"IdentityPoolId":"us-east-1:pool"}'
        if self.target == "GetId":
            return 200, orjson.dumps({"IdentityId": f"us-east-1:{number}"})
        if self.target in {"GetCredentialsForIdentity", "GetOpenIdToken", "SetIdentityPoolRoles"}:
            return 200, b'{"IdentityId":"us-east-1:x","Token":"t"}'
        return 500, HTML_500


def with_server(
    test: Callable[[Endpoint], Awaitable[T]], style: str = "keep-alive", throttle_every: int = 0
) -> T:
    async def main() -> T:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: FakeCognito(style, throttle_every), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        async with server:
            return await asyncio.wait_for(test(Endpoint.parse(f"http://127.0.0.1:{port}")), 10)

    return asyncio.run(main())


@pytest.mark.parametrize("style", ["keep-alive", "close", "chunked"])
def test_client_reads_every_framing_and_reuses_or_reopens_connections(style: str) -> None:
    async def scenario(endpoint: Endpoint) -> tuple[list[bytes], int]:
        connection = HttpConnection(endpoint)
        request = RequestBuilder(endpoint, Credentials()).unsigned("GetId", b"{}")
        bodies = []
        for _ in range(3):
            status, body = await connection.send(request)
            assert status == 200
            bodies.append(body)
        connection.close()
        return bodies, connection.connects

    bodies, connects = with_server(scenario, style)
    assert all(orjson.loads(b)["IdentityId"].startswith("us-east-1:") for b in bodies)
    assert connects == (3 if style == "close" else 1)


def test_closed_loop_counts_requests_and_classifies_errors() -> None:
    async def scenario(endpoint: Endpoint) -> dict[str, Any]:
        builder = RequestBuilder(endpoint, Credentials())
        workload = FixedRequests([builder.unsigned("GetId", b"{}")])
        spec = LoadSpec(connections=4, warmup_s=0.05, requests=300, timeout_s=5)
        return await run_load(endpoint, builder, workload, spec)

    summary = with_server(scenario, throttle_every=4)
    assert summary["requests"] >= 300
    assert summary["errors"] == summary["error_types"]["TooManyRequestsException"]
    # One in four answers is a throttle error; allow slack for the window edges.
    assert 0.15 < summary["errors"] / summary["requests"] < 0.35
    assert summary["rps"] > 0 and summary["p99_ms"] is not None
    assert summary["connects"] == 4  # keep-alive: one connection per virtual user


def test_unsupported_operation_skips_the_scenario() -> None:
    async def scenario(endpoint: Endpoint) -> str:
        api = Api(endpoint, Credentials(), connections=4)
        try:
            await SCENARIOS["describe-identity"].setup(Context(api, Options(users=5)))
        except Skip as exc:
            return str(exc)
        finally:
            api.close()
        return "not skipped"

    reason = with_server(scenario)
    assert reason.startswith("DescribeIdentity failed during setup: HTTP 500")
    assert "not implemented" in reason


def test_device_flow_runs_three_requests_per_iteration() -> None:
    async def scenario(endpoint: Endpoint) -> dict[str, Any]:
        api = Api(endpoint, Credentials(), connections=4)
        prepared = await SCENARIOS["device-flow"].setup(Context(api, Options(users=5)))
        api.close()
        spec = LoadSpec(connections=2, warmup_s=0.02, requests=90, timeout_s=5)
        return {**await run_load(endpoint, api.builder, prepared.workload, spec), **prepared.info}

    summary = with_server(scenario)
    assert summary["errors"] == 0
    assert summary["roles"] == "set"
    assert summary["requests_per_iteration"] == 3
    # Every finished iteration is three successful requests; in-flight ones at the edges differ.
    assert abs(summary["requests"] - 3 * summary["iterations"]) <= 2 * 3
