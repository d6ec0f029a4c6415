"""The STS endpoint at idpool's own URL: form-encoded `Action=…` POSTs to `/`.

The edge hands a request here only when it has no `X-Amz-Target` and a form content type, so
the cognito JSON path pays one header lookup. AssumeRoleWithWebIdentity is unsigned (as every
SDK sends it); GetCallerIdentity must be signed (service `sts`), always verified strictly, and
answers for credentials idpool vended (the assumed role) or for a configured access key (the
account's root).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from idpool.auth.callers import LiveSigner
from idpool.domain.errors import (
    InternalErrorException,
    MissingAuthenticationTokenException,
    ServiceError,
    UnrecognizedClientException,
)
from idpool.server.metrics import Metrics
from idpool.service.sts import StsService, role_id
from idpool.wire import sts as wire

log = logging.getLogger("idpool.request")

AWS_CREDENTIALS = (
    "The security token included in the request is invalid. This idpool runs with "
    "--credential-mode sts: the credentials of GetCredentialsForIdentity are AWS's, not "
    "idpool's, so ask AWS STS who they are (idpool answers only for credentials it vended)."
)


@dataclass(frozen=True, slots=True)
class StsResponse:
    status: int
    body: bytes
    request_id: str


class StsEndpoint:
    def __init__(
        self,
        service: StsService,
        signer: LiveSigner,
        *,
        credential_mode: str = "local",
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._service = service
        self._signer = signer
        self._credential_mode = credential_mode

    async def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> StsResponse:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        operation = "-"
        code = "OK"
        try:
            operation, params = wire.decode(body)
            if operation == "GetCallerIdentity":
                result = await self._caller_identity(method, path, query, headers, body)
            else:
                result = await self._assume(params)
            response = StsResponse(
                200, wire.encode_result(operation, result, request_id), request_id
            )
        except ServiceError as error:
            code = wire.sts_code(error)
            status, payload = wire.encode_error(error, request_id)
            response = StsResponse(status, payload, request_id)
        except Exception:
            code = "InternalFailure"
            log.exception("unexpected error in sts:%s (request %s)", operation, request_id)
            status, payload = wire.encode_error(
                InternalErrorException("An internal error occurred."), request_id
            )
            response = StsResponse(status, payload, request_id)
        elapsed = time.perf_counter() - started
        if self._metrics is not None:
            self._metrics.requests.labels(f"sts:{operation}", code).inc()
            self._metrics.latency.labels(f"sts:{operation}").observe(elapsed)
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "operation": f"sts:{operation}",
                "status": response.status,
                "error": None if code == "OK" else code,
                "latency_ms": round(elapsed * 1000, 3),
            },
        )
        return response

    async def _assume(self, params: Mapping[str, Any]) -> dict[str, Any]:
        assumed = await self._service.assume_role_with_web_identity(
            params["WebIdentityToken"],
            params["RoleArn"],
            params["RoleSessionName"],
            params.get("DurationSeconds"),
        )
        credentials = assumed.credentials
        return {
            "Credentials": {
                "AccessKeyId": credentials.access_key_id,
                "SecretAccessKey": credentials.secret_key,
                "SessionToken": credentials.session_token,
                "Expiration": credentials.expiration,
            },
            "SubjectFromWebIdentityToken": assumed.subject,
            "AssumedRoleUser": {
                "Arn": assumed.assumed_role_arn,
                "AssumedRoleId": assumed.assumed_role_id,
            },
            "Provider": assumed.provider,
            "Audience": assumed.audience,
        }

    async def _caller_identity(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        try:
            principal = await self._signer.principal(method, path, query, headers, body)
            if principal is None:
                raise MissingAuthenticationTokenException("Request is missing Authentication Token")
        except UnrecognizedClientException as unknown:
            if self._credential_mode == "sts":
                raise _Signing(UnrecognizedClientException(AWS_CREDENTIALS)) from None
            raise _Signing(unknown) from None
        except ServiceError as error:
            raise _Signing(error) from None
        session = principal.session
        if session is None:
            return {
                "UserId": principal.account_id,
                "Account": principal.account_id,
                "Arn": f"arn:aws:iam::{principal.account_id}:root",
            }
        return {
            "UserId": f"{role_id(session.role_arn)}:{session.session_name}",
            "Account": session.account_id,
            "Arn": session.assumed_role_arn,
        }


class _Signing(ServiceError):
    """An error about the caller's own signature or credentials, named the way STS names it."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(error.message)
        self.code = wire.sts_code(error, signing=True)
