"""A gateway's authentication endpoint for credentials idpool vended (docs/credentials.md).

Compatible with nginx `auth_request` and Envoy `ext_authz` (HTTP service):

* `ANY /gateway/auth` — nginx: the original method and URI come in `X-Original-Method` and
  `X-Original-URI` (the subrequest itself is a GET without a body);
* `ANY /gateway/auth/<original path>` — Envoy: `path_prefix: /gateway/auth`, so the method and
  path are the original ones.

The SigV4 signature (service and region configurable, default `execute-api`) is verified
strictly against the original request; when the body is not forwarded, the payload hash is the
signed `x-amz-content-sha256` header. Only credentials idpool vended are accepted, and only while
their identity stands. 200 answers name the caller as API Gateway's `requestContext.identity`
does; 401 (no or unusable credentials) and 403 (wrong signature, not idpool's credentials) carry
the reason in `x-idpool-auth-error` and a JSON body. The endpoint evaluates no IAM policy: the
upstream decides from the headers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from idpool.auth.callers import LiveSigner
from idpool.domain.errors import (
    ExpiredTokenException,
    ServiceError,
    UnrecognizedClientException,
)
from idpool.server.metrics import Metrics
from idpool.server.requests import headers_of, read_body
from idpool.server.types import Receive, Scope, Send
from idpool.service.sts import role_id

log = logging.getLogger("idpool.request")

PREFIX = "/gateway/auth"

# Client errors that mean "authenticate again"; every other refusal is a 403.
_UNAUTHENTICATED = (UnrecognizedClientException, ExpiredTokenException)
MAX_AUTH_BODY = 64 * 1024
BODY_DEADLINE_SECONDS = 10.0


def identity_headers(fields: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        (f"x-idpool-{name}".encode(), value.encode("latin-1", "replace"))
        for name, value in fields.items()
    ]


class GatewayAuth:
    def __init__(self, signer: LiveSigner, metrics: Metrics | None = None) -> None:
        self._signer = signer
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = headers_of(scope)
        # What was read before a stop cannot match the signature: refused as a mismatch.
        body = (await read_body(receive, MAX_AUTH_BODY, BODY_DEADLINE_SECONDS)).data
        path: str = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        path = path.split("?", 1)[0]
        if path == PREFIX:
            method = headers.get("x-original-method", str(scope["method"]))
            original = headers.get("x-original-uri", "/")
            target, _, query = original.partition("?")
        else:
            method = str(scope["method"])
            target = path[len(PREFIX) :] or "/"
            query = scope.get("query_string", b"").decode("latin-1")
        try:
            status, fields, message = await self.check(method, target, query, headers, body)
        except Exception:  # a bug must never read as "allowed": 500 is a refusal for nginx too
            log.exception("unexpected error in gateway:auth")
            status, fields, message = 500, {}, "InternalFailure: An internal error occurred."
        if self._metrics is not None:
            # The code is the reason's prefix (`ExpiredTokenException: …`), or OK.
            code = (
                message.split(":", 1)[0]
                if ":" in message
                else ("OK" if status == 200 else str(status))
            )
            self._metrics.requests.labels("gateway:auth", code).inc()
        document: dict[str, Any] = {"message": message} if message else {"identity": fields}
        extra = (
            identity_headers(fields)
            if status == 200
            else [(b"x-idpool-auth-error", message.encode("latin-1", "replace")[:512])]
        )
        payload = orjson.dumps(document)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"cache-control", b"no-store"),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def check(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], str]:
        """(status, identity fields, reason) for the original request."""
        try:
            principal = await self._signer.principal(
                method, path, query, headers, body, body_forwarded=bool(body)
            )
            if principal is None:
                return 401, {}, "The request is not signed with SigV4."
            session = principal.session
            if session is None:
                return 403, {}, "Only credentials vended by idpool are accepted here."
        except _UNAUTHENTICATED as error:
            return 401, {}, f"{error.code}: {error.message}"
        except ServiceError as error:
            return 403, {}, f"{error.code}: {error.message}"
        user = f"{role_id(session.role_arn)}:{session.session_name}"
        return (
            200,
            {
                "cognito-identity-id": session.identity_id,
                "cognito-identity-pool-id": session.pool_id,
                "cognito-authentication-type": (
                    "authenticated" if session.authenticated else "unauthenticated"
                ),
                "cognito-authentication-provider": session.provider,
                "user-arn": session.assumed_role_arn,
                "role-arn": session.role_arn,
                "caller": user,
                "user": user,
                "account-id": session.account_id,
                "access-key": principal.access_key_id,
            },
            "",
        )
