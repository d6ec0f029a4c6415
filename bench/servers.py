"""Reference servers: the ceilings idpool's numbers are read against.

* `trivial`: uvicorn running a raw ASGI callable that answers every request with `{}`. The
  target "GetId on an existing login ≥ 50 % of a trivial uvicorn handler" is measured against it.
* `null`: an asyncio protocol that answers `{}` with no framework at all (tens of thousands of
  requests a second). Pointing the generator at it measures the generator's own capacity, which
  must stay well above every server figure or the benchmark measures itself.

Run one with `python -m bench.servers trivial --port 8099` (pin it with `taskset -c 0`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from typing import cast

import httptools

from idpool.server.types import Receive, Scope, Send

_BODY = b"{}"
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/x-amz-json-1.1"), (b"content-length", b"2")],
}
_END = {"type": "http.response.body", "body": _BODY}


async def trivial_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the body (a real handler must) and answers `{}`."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = bool(message.get("more_body"))
    await send(_START)
    await send(_END)


def run_trivial(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        trivial_app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http="auto",
        server_header=False,
        date_header=False,
    )


_NULL_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}"
)


class _NullProtocol(asyncio.Protocol):
    """Answers each complete request with a fixed response; pipelining-safe via httptools."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_message_complete(self) -> None:
        if self._transport is not None:
            self._transport.write(_NULL_RESPONSE)


async def serve_null(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_NullProtocol, host, port, reuse_address=True)
    async with server:
        await server.serve_forever()


def run_null(host: str, port: int) -> None:
    from bench.run import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory("auto")) as runner:
        runner.run(serve_null(host, port))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__)
    parser.add_argument("kind", choices=["trivial", "null"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("reference servers listen on loopback only")
    with contextlib.suppress(KeyboardInterrupt):
        (run_trivial if args.kind == "trivial" else run_null)(args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
