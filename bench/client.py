"""A minimal keep-alive HTTP/1.1 client: one request in flight per connection, nothing else.

General clients (httpx, aiohttp) spend 100-300 µs of Python per request on features a closed
loop does not need (pools, redirects, header objects, cookies); that would make the generator
the bottleneck. Here a request is a ready-made byte string written to the transport, and the
response is parsed by httptools (llhttp, the parser uvicorn uses), which handles Content-Length,
chunked bodies and `Connection: close`. A server that closes after each response (moto's
Werkzeug server does) is reconnected before the next request, as botocore would.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools


class RequestFailed(Exception):
    """The connection broke, timed out or sent something that is not HTTP."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to send requests; `netloc` is also the Host header and the signed host."""

    url: str
    host: str
    port: int
    netloc: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host:port endpoints are supported, got {url!r}")
        port = parts.port or 80
        # The Host header botocore would send (and sign): the default port is left out.
        name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = name if port == 80 else f"{name}:{port}"
        return cls(url=url.rstrip("/"), host=parts.hostname, port=port, netloc=netloc)


class _ResponseProtocol(asyncio.Protocol):
    """Feeds bytes to httptools and resolves the waiting future when a response is complete."""

    __slots__ = ("_body", "_parser", "closed", "transport", "waiter")

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RequestFailed(f"bad HTTP response: {exc}"))

    # httptools callbacks (only the ones defined are called)
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self._body) if len(self._body) != 1 else self._body[0]
        self._body = []
        status = self._parser.get_status_code()
        if not self._parser.should_keep_alive():
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(RequestFailed(f"connection closed by the server ({exc or 'EOF'})"))

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)


class HttpConnection:
    """One logical connection of a virtual user; reconnects transparently when the server closed.

    `inflight_since` lets a watchdog abort requests that exceed the timeout without arming a
    timer per request (a timer per request would cost more than the request bookkeeping).
    """

    __slots__ = ("_loop", "_protocol", "connect_failed", "connects", "endpoint", "inflight_since")

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._loop = asyncio.get_running_loop()
        self._protocol: _ResponseProtocol | None = None
        self.inflight_since = 0.0
        self.connects = 0
        self.connect_failed = False

    async def _connect(self) -> _ResponseProtocol:
        try:
            _, protocol = await self._loop.create_connection(
                _ResponseProtocol, self.endpoint.host, self.endpoint.port
            )
        except OSError as exc:
            self.connect_failed = True
            raise RequestFailed(f"cannot connect to {self.endpoint.url}: {exc}") from exc
        self.connects += 1
        self.connect_failed = False
        self._protocol = protocol
        return protocol

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Write a complete HTTP request and return (status, body) of its response."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        waiter: asyncio.Future[tuple[int, bytes]] = self._loop.create_future()
        protocol.waiter = waiter
        assert protocol.transport is not None
        self.inflight_since = time.monotonic()
        protocol.transport.write(request)
        try:
            return await waiter
        finally:
            self.inflight_since = 0.0

    def abort(self, reason: str) -> None:
        """Fail the request in flight (used by the timeout watchdog)."""
        if self._protocol is not None:
            self._protocol._fail(RequestFailed(reason))

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
