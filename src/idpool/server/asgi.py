"""The HTTP edge: a plain ASGI callable.

No general-purpose router: the API is one route (`POST /`) that must stay thin (see
docs/performance.md — a framework router costs about a third of the request budget here),
and the handful of GET routes are matched from a dict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from idpool.domain.errors import (
    InternalErrorException,
    RequestEntityTooLargeException,
    RequestHeaderFieldsTooLargeException,
    RequestTimeoutException,
    ServiceError,
    UnknownOperationException,
)
from idpool.server.cors import RefusalLog, normalise_origins
from idpool.server.gateway import PREFIX as GATEWAY_PREFIX
from idpool.server.gateway import GatewayAuth
from idpool.server.metrics import Metrics
from idpool.server.pipeline import ApiPipeline, ApiResponse, error_response, response_headers
from idpool.server.requests import BodyEnd, headers_of, read_body
from idpool.server.sts import StsEndpoint
from idpool.server.types import AsgiApp, Receive, Scope, Send
from idpool.wire.sts import FORM_CONTENT_TYPE, XML_CONTENT_TYPE

JsonSource = Callable[[], Awaitable[Mapping[str, Any]]]

CORS_ALLOW_HEADERS = (
    "content-type, x-amz-target, x-amz-user-agent, amz-sdk-invocation-id, amz-sdk-request, "
    "cache-control, authorization, x-amz-date, x-amz-security-token, x-amz-content-sha256, "
    "x-amz-api-version"
)
CORS_EXPOSE_HEADERS = "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """Limits of the edge. SDK requests carry about a dozen small headers; the limits leave
    ample room for them and refuse what only an attacker sends."""

    max_body_bytes: int = 1024 * 1024
    max_header_bytes: int = 32 * 1024
    max_headers: int = 128
    body_timeout_seconds: float = 10.0  # for the whole body, however it is chunked
    cors_origins: tuple[str, ...] = ("*",)
    cors_max_age: int = 86400


@dataclass(slots=True)
class WellKnown:
    """Documents served on GET; sources are async so they may read the store."""

    openid_configuration: JsonSource | None = None
    jwks: JsonSource | None = None
    ready: Callable[[], Awaitable[tuple[bool, Mapping[str, Any]]]] | None = None
    extra_routes: dict[str, AsgiApp] = field(default_factory=dict)


class IdpoolApp:
    def __init__(
        self,
        pipeline: ApiPipeline | None,
        *,
        settings: EdgeSettings | None = None,
        well_known: WellKnown | None = None,
        metrics: Metrics | None = None,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        console: AsgiApp | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._sts: StsEndpoint | None = None
        self._gateway: GatewayAuth | None = None
        self._console = console
        self._settings = settings or EdgeSettings()
        self._origins = normalise_origins(self._settings.cors_origins)
        self._refusals = RefusalLog(self._origins)
        self._well_known = well_known or WellKnown()
        self._metrics = metrics
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._get_routes: dict[str, AsgiApp] = {
            "/health": self._health,
            "/ready": self._ready,
            "/metrics": self._metrics_route,
            "/.well-known/openid-configuration": self._openid_configuration,
            "/.well-known/jwks_uri": self._jwks,
            "/.well-known/jwks.json": self._jwks,
            **self._well_known.extra_routes,
        }

    def attach(
        self,
        pipeline: ApiPipeline,
        sts: StsEndpoint | None = None,
        gateway: GatewayAuth | None = None,
    ) -> None:
        """Plug in the API once start-up has opened the store and the keyring."""
        self._pipeline = pipeline
        self._sts = sts
        self._gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self._on_startup is not None:
                        await self._on_startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _cors(self, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        origin = headers.get("origin")
        allowed = self._origins
        if origin is None:
            return [(b"access-control-allow-origin", b"*")] if "*" in allowed else []
        if "*" in allowed:
            value = b"*"
        elif origin.lower() in allowed:
            value = origin.encode("latin-1")
        else:
            return []
        return [
            (b"access-control-allow-origin", value),
            (b"access-control-expose-headers", CORS_EXPOSE_HEADERS.encode()),
            *([(b"vary", b"Origin")] if value != b"*" else []),
        ]

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path = scope["path"]
        if method == "POST" and path == "/":
            await self._api(scope, receive, send)
            return
        if self._console is not None and (path == "/console" or path.startswith("/console/")):
            await self._console(scope, receive, send)
            return
        if self._gateway is not None and (
            path == GATEWAY_PREFIX or path.startswith(GATEWAY_PREFIX + "/")
        ):
            await self._gateway(scope, receive, send)
            return
        headers = headers_of(scope)
        if method == "OPTIONS":
            await self._preflight(headers, send)
            return
        route = self._get_routes.get(path) if method in ("GET", "HEAD") else None
        if route is not None:
            await route(scope, receive, send)
            return
        error = UnknownOperationException(f"No operation at {method} {path[:200]}.")
        response = error_response(error, status=405 if path == "/" else 404)
        await self._send(send, response, self._cors(headers))

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_headers = scope["headers"]
        if len(raw_headers) > self._settings.max_headers or (
            sum(len(k) + len(v) for k, v in raw_headers) > self._settings.max_header_bytes
        ):
            await self._refuse(
                send,
                {},
                RequestHeaderFieldsTooLargeException(
                    f"Request headers exceed {self._settings.max_headers} fields or "
                    f"{self._settings.max_header_bytes} bytes."
                ),
            )
            return
        headers = headers_of(scope)
        limit = self._settings.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, headers)
            return
        # One deadline for the whole body, not per chunk (server/requests.py).
        read = await read_body(receive, limit, self._settings.body_timeout_seconds)
        if read.end is not BodyEnd.COMPLETE:
            if read.end is BodyEnd.TIMED_OUT:
                await self._refuse(
                    send, headers, RequestTimeoutException("The request body arrived too slowly.")
                )
            elif read.end is BodyEnd.TOO_LARGE:
                await self._too_large(send, headers)
            return
        body = read.data
        query = scope.get("query_string", b"").decode("latin-1")
        if (
            self._sts is not None
            and "x-amz-target" not in headers
            and headers.get("content-type", "").startswith(FORM_CONTENT_TYPE)
        ):
            # The AWS Query protocol of STS: no X-Amz-Target, a form body (`Action=…`).
            sts = await self._sts.handle("POST", "/", query, headers, body)
            await self._plain(
                send,
                sts.status,
                sts.body,
                XML_CONTENT_TYPE,
                [(b"x-amzn-requestid", sts.request_id.encode()), *self._cors(headers)],
            )
            return
        if self._pipeline is None:
            response = error_response(InternalErrorException("The server is starting."))
        else:
            response = await self._pipeline.handle("POST", "/", query, headers, body)
        await self._send(send, response, self._cors(headers))

    async def _too_large(self, send: Send, headers: Mapping[str, str]) -> None:
        await self._refuse(
            send,
            headers,
            RequestEntityTooLargeException(
                f"Request body is larger than {self._settings.max_body_bytes} bytes."
            ),
        )

    async def _refuse(self, send: Send, headers: Mapping[str, str], error: ServiceError) -> None:
        """An AWS-shaped refusal that also closes the connection (the rest is not read)."""
        await self._send(
            send, error_response(error), [*self._cors(headers), (b"connection", b"close")]
        )

    @staticmethod
    async def _send(send: Send, response: ApiResponse, extra: list[tuple[bytes, bytes]]) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": response_headers(response, extra),
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _preflight(self, headers: Mapping[str, str], send: Send) -> None:
        cors = self._cors(headers)
        origin = headers.get("origin")
        if not cors and origin is not None:
            self._refusals.refused(
                origin,
                headers.get("access-control-request-method"),
                headers.get("access-control-request-headers"),
            )
        if cors:
            cors += [
                (b"access-control-allow-methods", b"POST, GET, OPTIONS"),
                (b"access-control-allow-headers", CORS_ALLOW_HEADERS.encode()),
                (b"access-control-max-age", str(self._settings.cors_max_age).encode()),
            ]
        await send(
            {
                "type": "http.response.start",
                "status": 200 if cors else 403,
                "headers": [(b"content-length", b"0"), *cors],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _plain(
        send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]]
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _json(
        self,
        send: Send,
        status: int,
        document: Mapping[str, Any],
        scope: Scope,
        cache: bytes | None = None,
    ) -> None:
        extra = self._cors(headers_of(scope))
        if cache is not None:
            extra.append((b"cache-control", cache))
        await self._plain(send, status, orjson.dumps(document), b"application/json", extra)

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._json(send, 200, {"status": "ok"}, scope)

    async def _ready(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._well_known.ready is None:
            await self._json(send, 200, {"status": "ready"}, scope)
            return
        ok, detail = await self._well_known.ready()
        await self._json(send, 200 if ok else 503, detail, scope)

    async def _metrics_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._metrics is None:
            await self._plain(send, 404, b"", b"text/plain", [])
            return
        await self._plain(
            send, 200, self._metrics.render(), self._metrics.content_type.encode(), []
        )

    async def _openid_configuration(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = self._well_known.openid_configuration
        if source is None:
            await self._json(send, 404, {"message": "No issuer configured."}, scope)
            return
        await self._json(send, 200, await source(), scope, b"public, max-age=3600")

    async def _jwks(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = self._well_known.jwks
        if source is None:
            await self._json(send, 404, {"message": "No issuer configured."}, scope)
            return
        await self._json(send, 200, await source(), scope, b"public, max-age=300")
