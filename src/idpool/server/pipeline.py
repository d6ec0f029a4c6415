"""One API request, as one explicit sequence of plain steps (no hidden handler chain).

read body → name the operation → authenticate (unless the model marks it public) →
check the model's constraints → throttle → call the service → encode. Anything unexpected
becomes an InternalErrorException JSON answer, never a traceback or an HTML page.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter, Histogram

from idpool.domain.errors import (
    InternalErrorException,
    MissingAuthenticationTokenException,
    ServiceError,
    StoreFailure,
    ValidationException,
)
from idpool.domain.records import Caller
from idpool.server.metrics import Metrics
from idpool.service.facade import IdentityPoolService
from idpool.service.role_policy import RolePolicy
from idpool.wire.constraints import ConstraintChecker, validation_message
from idpool.wire.decode import operation_from_target, parse_body
from idpool.wire.encode import encode_error, encode_result
from idpool.wire.model import content_type
from idpool.wire.operations import OPERATIONS, Issues

# The metric children one (operation, outcome) pair counts into (see ApiPipeline._count).
_Children = tuple[Counter, Histogram, Counter | None]

log = logging.getLogger("idpool.request")

JSON_CONTENT_TYPE = content_type().encode("ascii")  # from the model: application/x-amz-json-1.1


class RequestAuthenticator(Protocol):
    """Returns the caller of a signed request, None when unsigned; raises on a bad signature."""

    def __call__(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Awaitable[Caller | None]: ...


class Throttle(Protocol):
    def check(self, account_id: str, operation: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    body: bytes
    request_id: str
    error_code: str | None = None
    error_message: str | None = None


class ApiPipeline:
    def __init__(
        self,
        service: IdentityPoolService,
        checkers: Mapping[str, ConstraintChecker],
        authenticate: RequestAuthenticator,
        *,
        default_account: str,
        throttle: Throttle | None = None,
        metrics: Metrics | None = None,
        vendor_mode: str = "local",
        clock: Callable[[], float] = time.perf_counter,
        role_policy: RolePolicy | None = None,
    ) -> None:
        self._role_policy = role_policy or RolePolicy()
        self._vendor_mode = vendor_mode
        self._children: dict[tuple[str, str], _Children] = {}
        self._service = service
        self._checkers = checkers
        self._authenticate = authenticate
        self._default_account = default_account
        self._throttle = throttle
        self._metrics = metrics
        self._clock = clock
        self._public = {name: row.public for name, row in OPERATIONS.items()}

    async def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> ApiResponse:
        started = self._clock()
        request_id = str(uuid.uuid4())
        operation = "-"
        account = "-"
        try:
            operation = operation_from_target(headers.get("x-amz-target"))
            caller = await self._authenticate(method, path, query, headers, body)
            if caller is None:
                if not self._public[operation]:
                    raise MissingAuthenticationTokenException("Missing Authentication Token")
                caller = Caller(account_id=self._default_account)
            account = caller.account_id
            params = parse_body(body)
            if caller.session is not None and not self._public[operation]:
                # Vended credentials are never account admins unless the operator says so;
                # refused before the input is even validated.
                self._role_policy.check_admin(caller.session, operation, params, caller.region)
            clauses = self._checkers[operation].check(params)
            if clauses:
                raise ValidationException(validation_message(clauses))
            row = OPERATIONS[operation]
            if self._throttle is not None and not self._public[operation]:
                # Public calls are throttled by the service, against the pool's account.
                self._throttle.check(caller.account_id, row.rate_key)
            result = await row.handler(self._service, caller, params)
            response = ApiResponse(200, encode_result(operation, result), request_id)
        except StoreFailure as error:
            # The client gets a plain InternalErrorException; the operator gets the cause.
            log.error(
                "store failure in %s: %s",
                operation,
                error.cause,
                extra={"request_id": request_id, "operation": operation, "account": account},
            )
            if self._metrics is not None:
                self._metrics.store_errors.inc()
            response = error_response(error, request_id)
        except ServiceError as error:
            response = error_response(error, request_id)
        except Exception:
            log.exception("unexpected error in %s (request %s)", operation, request_id)
            if self._metrics is not None:
                self._metrics.store_errors.inc()
            response = error_response(
                InternalErrorException("An internal error occurred."), request_id
            )
        elapsed = self._clock() - started
        if self._metrics is not None:
            self._count(operation, response, elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "method": method,
                    "request_id": request_id,
                    "operation": operation,
                    "account": account,
                    "status": response.status,
                    "error": response.error_code,
                    "latency_ms": round(elapsed * 1000, 3),
                },
            )
        return response

    def _count(self, operation: str, response: ApiResponse, elapsed: float) -> None:
        """Label lookups are cached: prometheus-client resolves labels with a lock each time.

        One cached tuple per (operation, outcome): the request counter, the latency histogram
        and, for a successful token or credentials call, the issued counter."""
        assert self._metrics is not None
        key = (operation, response.error_code or "OK")
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._metric_children(*key)
        children[0].inc()
        children[1].observe(elapsed)
        if children[2] is not None:
            children[2].inc()
        self._metrics.calls.record(operation, response.error_code is not None)

    def _metric_children(self, operation: str, outcome: str) -> _Children:
        assert self._metrics is not None
        issued = None
        row = OPERATIONS.get(operation)
        if outcome == "OK" and row is not None:
            if row.issues is Issues.TOKEN:
                issued = self._metrics.tokens_issued.labels(operation)
            elif row.issues is Issues.CREDENTIALS:
                issued = self._metrics.credentials_vended.labels(self._vendor_mode)
        return (
            self._metrics.requests.labels(operation, outcome),
            self._metrics.latency.labels(operation),
            issued,
        )


def error_response(
    error: ServiceError, request_id: str | None = None, *, status: int | None = None
) -> ApiResponse:
    """The AWS-shaped answer to an error; `status` overrides the table (edge-only cases)."""
    table_status, body = encode_error(error)
    return ApiResponse(
        status or table_status,
        body,
        request_id or str(uuid.uuid4()),
        error.code,
        error.message,
    )


Headers = list[tuple[bytes, bytes]]


def response_headers(response: ApiResponse, extra: Headers) -> Headers:
    headers: Headers = [
        (b"content-type", JSON_CONTENT_TYPE),
        (b"content-length", str(len(response.body)).encode()),
        (b"x-amzn-requestid", response.request_id.encode()),
    ]
    if response.error_code is not None:
        headers.append((b"x-amzn-errortype", f"{response.error_code}:".encode()))
        if response.error_message is not None:
            headers.append((b"x-amzn-errormessage", _header_safe(response.error_message).encode()))
    headers.extend(extra)
    return headers


def _header_safe(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:1024]
