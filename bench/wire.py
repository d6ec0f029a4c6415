"""AWS JSON 1.1 requests as bytes, and a small API client for scenario setup.

The hot loop sends byte strings built here: unsigned requests are built once and reused,
signed ones are re-rendered per request because the signature covers the current second.
Setup (creating pools, pre-registering logins) goes through `Api`, which adds error decoding
and bounded concurrency on top of the same connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from bench.client import Endpoint, HttpConnection, RequestFailed
from bench.sigv4_fast import CONTENT_TYPE, FastSigner, body_hash

TARGET_PREFIX = "AWSCognitoIdentityService."


@dataclass(frozen=True, slots=True)
class Credentials:
    """The SigV4 identity of the generator (idpool in lax mode and moto accept any key)."""

    access_key: str = "test"
    secret_key: str = "test"
    region: str = "us-east-1"


class ApiError(Exception):
    """A non-200 answer, or no answer at all, during setup."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status


def error_code(status: int, body: bytes) -> str:
    """The AWS error code of a failed response (`__type` without its namespace), else the status."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        kind = data.get("__type") or data.get("code") or data.get("Code")
        if isinstance(kind, str) and kind:
            return kind.rsplit("#", 1)[-1]
    return f"HTTP {status}"


def error_message(body: bytes) -> str:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        # Not an AWS error, e.g. the HTML 500 page of a server lacking the operation.
        if body.lstrip()[:1] == b"<":
            return "an HTML error page instead of an AWS error (operation not implemented?)"
        return " ".join(body[:400].decode("utf-8", "replace").split())[:120]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("Message") or "")
    return ""


class RequestBuilder:
    """Renders complete HTTP/1.1 requests for one endpoint and one set of credentials."""

    __slots__ = ("_head", "_signer")

    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self._signer = FastSigner(
            credentials.access_key, credentials.secret_key, credentials.region, endpoint.netloc
        )
        self._head = (
            f"POST / HTTP/1.1\r\nHost: {endpoint.netloc}\r\nContent-Type: {CONTENT_TYPE}\r\n"
        )

    def unsigned(self, operation: str, body: bytes) -> bytes:
        head = (
            f"{self._head}X-Amz-Target: {TARGET_PREFIX}{operation}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def signed(self, operation: str, body: bytes, payload_hash: str | None = None) -> bytes:
        target = TARGET_PREFIX + operation
        amz_date, authorization = self._signer.sign(target, payload_hash or body_hash(body))
        head = (
            f"{self._head}X-Amz-Target: {target}\r\nX-Amz-Date: {amz_date}\r\n"
            f"Authorization: {authorization}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def build(self, operation: str, params: Mapping[str, Any], *, signed: bool) -> bytes:
        body = orjson.dumps(params)
        return self.signed(operation, body) if signed else self.unsigned(operation, body)


class Api:
    """Setup-time client: decoded results, AWS errors as ApiError, bounded parallel maps."""

    def __init__(self, endpoint: Endpoint, credentials: Credentials, connections: int = 32) -> None:
        self.endpoint = endpoint
        self.builder = RequestBuilder(endpoint, credentials)
        self._idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        self._all = [HttpConnection(endpoint) for _ in range(connections)]
        self.progress = 0  # successful calls of the running `repeat`, for progress reports
        for connection in self._all:
            self._idle.put_nowait(connection)

    async def call(
        self, operation: str, params: Mapping[str, Any], *, signed: bool = True
    ) -> dict[str, Any]:
        request = self.builder.build(operation, params, signed=signed)
        connection = await self._idle.get()
        try:
            status, body = await asyncio.wait_for(connection.send(request), 60)
        except (RequestFailed, TimeoutError) as exc:
            connection.close()
            raise ApiError("NoResponse", f"{operation}: {exc}") from exc
        finally:
            self._idle.put_nowait(connection)
        if status != 200:
            raise ApiError(error_code(status, body), error_message(body), status)
        try:
            result = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as exc:
            raise ApiError("BadResponse", f"{operation}: not JSON: {body[:100]!r}") from exc
        if not isinstance(result, dict):
            raise ApiError("BadResponse", f"{operation}: not a JSON object")
        return result

    async def map(
        self, operation: str, params: Iterable[Mapping[str, Any]], *, signed: bool = True
    ) -> list[dict[str, Any]]:
        """Call one operation for many parameter sets, as many at once as there are connections.

        The first error cancels the rest and is raised: setup either completes or the scenario
        is skipped with that error as the reason.
        """
        pending = iter(params)
        results: dict[int, dict[str, Any]] = {}
        counter = iter(range(1 << 62))

        async def worker() -> None:
            for item in pending:
                index = next(counter)
                results[index] = await self.call(operation, item, signed=signed)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(len(self._all)):
                    group.create_task(worker())
        except ExceptionGroup as group_error:
            raise group_error.exceptions[0] from None
        return [results[i] for i in range(len(results))]

    async def repeat(
        self,
        operation: str,
        params: Mapping[str, Any],
        count: int,
        *,
        signed: bool = False,
        max_errors: int = 1000,
    ) -> int:
        """Make `count` successful calls without keeping their results (pool prefill).

        Returns the number of failed attempts; more than `max_errors` of them abort with the last
        error, so a misconfigured endpoint cannot keep the run busy for hours.
        """
        claimed = 0
        errors = 0
        self.progress = 0

        async def worker() -> None:
            nonlocal claimed, errors
            while claimed < count:
                claimed += 1
                try:
                    await self.call(operation, params, signed=signed)
                except ApiError:
                    claimed -= 1
                    errors += 1
                    if errors > max_errors:
                        raise
                else:
                    self.progress += 1

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(len(self._all)):
                    group.create_task(worker())
        except ExceptionGroup as group_error:
            raise group_error.exceptions[0] from None
        return errors

    def close(self) -> None:
        for connection in self._all:
            connection.close()
