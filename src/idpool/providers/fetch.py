"""Every request idpool sends to an identity provider goes through here (docs/security.md).

Login verification is reachable by unsigned callers, so whatever URL it fetches must not be
theirs to aim. Two kinds of URL exist:

- **operator URLs**: on the origin (scheme, host, port) of a URL written in the providers
  file (an issuer, a registered OIDC provider, `jwks_url`, `discovery_url`, `social` base
  URLs) or built into idpool (the social providers' endpoints). Fetched as written — plain
  http and private addresses included, since that is how local IdPs and emulators are
  reached;
- **derived URLs**: every other URL, built from a pool's configuration or read from a remote
  document (a user pool's `https://<issuer>/.well-known/jwks.json`, a discovery document's
  `jwks_uri` on another origin): https only, and only to public addresses. The host is
  resolved once, every address it resolves to must be public (no loopback, private,
  link-local, shared, reserved or multicast), and the connection goes to the address that
  was checked — so DNS rebinding cannot swap it.

Both kinds get a total deadline (slow-drip answers included), no redirect to another origin,
and a body streamed against a hard cap (512 KiB by default, counted after decompression) so
an answer of any size cannot grow memory. Failures are `FetchError`s whose text names the URL
without its query string, which may carry a provider token.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpcore
import httpx

MAX_BODY_BYTES = 512 * 1024
DEFAULT_TIMEOUT = 5.0
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

Resolver = Callable[[str, int], Awaitable[str]]


class FetchError(Exception):
    """The provider's answer could not be had: unreachable, refused destination, too large,
    too slow, redirected elsewhere. The text is safe to log (no query string)."""


class BlockedDestination(FetchError):
    """A derived URL named a destination idpool does not connect to."""


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    body: bytes


def loggable(url: httpx.URL | str) -> str:
    """The URL without userinfo, query or fragment: what log lines and errors may show."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except httpx.InvalidURL:
        return "(an invalid URL)"
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def origin_of(url: httpx.URL | str) -> str:
    """`scheme://host:port` with the default port made explicit."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    port = parsed.port or {"https": 443, "http": 80}.get(parsed.scheme, 0)
    return f"{parsed.scheme}://{parsed.host}:{port}"


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # e.g. a scoped link-local "fe80::1%eth0"
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve_public(host: str, port: int) -> str:
    """The address to connect to for `host`, once every address it resolves to is public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve {host}: {exc.strerror or exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise BlockedDestination(f"{host} resolves to a non-public address")
    return addresses[0]


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked address of a host; TLS still verifies the host's name."""

    def __init__(self, resolve: Resolver) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self._resolve(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedDestination("unix sockets are not a provider destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CoreStream(httpx.AsyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._response.aiter_stream():
            yield part

    async def aclose(self) -> None:
        await self._response.aclose()


class PublicOnlyTransport(httpx.AsyncBaseTransport):
    """An httpx transport over httpcore with the public-only network backend.

    No proxy (the check must see the real destination) and no kept-alive connections.
    """

    def __init__(
        self, *, resolve: Resolver = resolve_public, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_keepalive_connections=0,
            network_backend=_PublicOnlyBackend(resolve),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=cast(AsyncIterator[bytes], request.stream),
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_CoreStream(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


# Everything a transport may raise for an unreachable or misbehaving provider.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
    ssl.SSLError,
    zlib.error,
    OSError,
)


class Fetcher:
    """GETs for login verification, with the rules above. Safe to share across requests."""

    def __init__(
        self,
        operator_client: httpx.AsyncClient,
        *,
        operator_urls: Iterable[str] = (),
        derived_client: httpx.AsyncClient | None = None,
        max_bytes: int = MAX_BODY_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._operator = operator_client
        self._operator_origins = frozenset(origin_of(u) for u in operator_urls)
        # No proxy from the environment (httpx mounts none over an explicit transport; this
        # says so): behind a proxy the destination check would not see the destination.
        self._derived = derived_client or httpx.AsyncClient(
            transport=PublicOnlyTransport(), trust_env=False
        )
        self._max_bytes = max_bytes
        self._timeout = timeout

    def is_derived(self, url: str) -> bool:
        """True unless `url` is on the origin of a URL the operator wrote."""
        try:
            return origin_of(url) not in self._operator_origins
        except httpx.InvalidURL:
            return True

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """The status and (capped) body of `GET url`; FetchError when it cannot be had."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._get(url, self.is_derived(url), params, headers)
        except TimeoutError:
            raise FetchError(f"{loggable(url)}: no complete answer in {self._timeout:g}s") from None
        except FetchError:
            raise
        except _TRANSPORT_ERRORS as exc:
            raise FetchError(f"{loggable(url)}: {type(exc).__name__}") from None

    async def _get(
        self,
        url: str,
        derived: bool,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Fetched:
        client = self._derived if derived else self._operator
        request = client.build_request(
            "GET",
            url,
            params=params,
            headers={**(headers or {}), "Accept-Encoding": "gzip, deflate, identity"},
            timeout=self._timeout,
        )
        for _ in range(MAX_REDIRECTS + 1):
            allowed = ("https",) if derived else ("https", "http")
            if request.url.scheme not in allowed:
                raise BlockedDestination(f"{loggable(request.url)}: only https may be fetched")
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                location = response.headers.get("location")
                if response.status_code not in _REDIRECTS or not location:
                    return Fetched(response.status_code, await self._body(response))
                target = request.url.join(location)
            finally:
                await response.aclose()
            if origin_of(target) != origin_of(request.url):
                raise BlockedDestination(f"{loggable(request.url)}: redirected to another origin")
            request = client.build_request(
                "GET", target, headers=request.headers, timeout=self._timeout
            )
        raise FetchError(f"{loggable(url)}: too many redirects")

    async def _body(self, response: httpx.Response) -> bytes:
        where = loggable(response.request.url)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchError(f"{where}: answer larger than {self._max_bytes} bytes")
        if response.is_stream_consumed:  # an in-memory answer (a mock transport in tests)
            if len(response.content) > self._max_bytes:
                raise FetchError(f"{where}: answer larger than {self._max_bytes} bytes")
            return response.content
        decoder = _decoder(response.headers.get("content-encoding", ""), where)
        body = bytearray()
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > self._max_bytes:
                raise FetchError(f"{where}: answer larger than {self._max_bytes} bytes")
            body += decoder.decompress(chunk, self._max_bytes - len(body) + 1) if decoder else chunk
            if len(body) > self._max_bytes:
                raise FetchError(f"{where}: answer larger than {self._max_bytes} bytes")
        if decoder is not None:
            body += decoder.flush(self._max_bytes - len(body) + 1)
            if len(body) > self._max_bytes:
                raise FetchError(f"{where}: answer larger than {self._max_bytes} bytes")
        return bytes(body)


def _decoder(encoding: str, where: str) -> Any:
    """A bounded decompressor for the answer's Content-Encoding (None for identity)."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return None
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if name == "deflate":
        return zlib.decompressobj()
    raise FetchError(f"{where}: unsupported Content-Encoding {name!r}")
