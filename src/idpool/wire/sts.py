"""The AWS Query protocol of STS, from botocore's `sts` model loaded at run time.

Requests are form-encoded POSTs (`Action=…&Version=2011-06-15&…`); answers are XML in the
model's namespace, `<{Op}Response><{Op}Result>…</{Op}Result><ResponseMetadata>…` for results
and `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>` for errors. Input
constraints are checked by the same compiled checkers as the cognito API (wire/constraints.py),
so STS's ValidationError reads exactly like AWS's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.loaders
from botocore.model import ServiceModel, Shape

from idpool.domain.errors import (
    InvalidAction,
    ServiceError,
    StsValidationError,
)
from idpool.wire.constraints import ConstraintChecker, compile_checkers, validation_message

STS_SERVICE = "sts"
SERVED = ("AssumeRoleWithWebIdentity", "GetCallerIdentity")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
XML_CONTENT_TYPE = b"text/xml"
# Session policies would narrow the credentials; idpool evaluates no policy, so it refuses them
# rather than hand out credentials that look narrower than they are.
_POLICY_PARAMETERS = ("Policy", "PolicyArns")

# Errors the model does not list but STS answers (AWS's common errors), with their statuses.
_COMMON_STATUS = {
    "AccessDenied": 403,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "MissingAuthenticationToken": 403,
    "IncompleteSignature": 400,
    "ExpiredToken": 400,
    "InvalidAction": 400,
    "ValidationError": 400,
    "Throttling": 400,
    "InternalFailure": 500,
}
# idpool's SigV4 errors (cognito's names) as STS names them.
_SIGV4_CODES = {
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "InternalErrorException": "InternalFailure",
}


@cache
def sts_model() -> ServiceModel:
    loader = botocore.loaders.create_loader()
    return ServiceModel(loader.load_service_model(STS_SERVICE, "service-2"), STS_SERVICE)


@cache
def _checkers() -> dict[str, ConstraintChecker]:
    return compile_checkers(sts_model())


@cache
def _model_status() -> dict[str, int]:
    model = sts_model()
    statuses: dict[str, int] = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        error = shape.metadata.get("error")
        if isinstance(error, dict) and "code" in error:
            statuses[str(error["code"])] = int(error.get("httpStatusCode", 400))
    return statuses


def api_version() -> str:
    return str(sts_model().api_version)


def decode(body: bytes) -> tuple[str, dict[str, Any]]:
    """(operation, parameters typed by the input shape); raises STS's errors."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise InvalidAction("The request body is not a valid form-encoded query.") from None
    form = dict(pairs)
    action = form.get("Action", "")
    version = form.get("Version", "")
    if action not in SERVED or version != api_version():
        raise InvalidAction(
            f"Could not find operation {action[:64]} for version {version[:32] or 'NO_VERSION'}"
            + (
                ""
                if action in SERVED or not action
                else "; idpool's STS serves " + ", ".join(SERVED)
            )
        )
    if any(
        name == key or name.startswith(f"{key}.") for name in form for key in _POLICY_PARAMETERS
    ):
        raise StsValidationError(
            "Session policies (Policy, PolicyArns) are not supported by idpool's STS: it "
            "evaluates no IAM policy, so it cannot narrow the credentials."
        )
    operation = sts_model().operation_model(action)
    params: dict[str, Any] = {}
    shape = operation.input_shape
    if shape is not None:
        for name, member in shape.members.items():
            if name in form:
                params[name] = _typed(name, member, form[name])
    clauses = _checkers()[action].check(params)
    if clauses:
        raise StsValidationError(validation_message(clauses))
    return action, params


def _typed(name: str, shape: Shape, raw: str) -> Any:
    if shape.type_name in ("integer", "long"):
        if not (raw.isascii() and raw.lstrip("-").isdigit()):
            lower = name[0].lower() + name[1:]
            raise StsValidationError(
                f"1 validation error detected: Value '{raw[:64]}' at '{lower}' failed to satisfy "
                "constraint: Member must be a number"
            )
        return int(raw)
    return raw


def _timestamp(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _members(shape: Shape, value: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for name, member in shape.members.items():
        item = value.get(name)
        if item is None:
            continue
        if member.type_name == "structure":
            inner = _members(member, item)
        elif member.type_name == "timestamp":
            inner = _timestamp(item)
        else:
            inner = escape(str(item))
        parts.append(f"<{name}>{inner}</{name}>")
    return "".join(parts)


def encode_result(operation: str, result: Mapping[str, Any], request_id: str) -> bytes:
    """The XML answer, members in the output shape's order; unmodelled keys are dropped."""
    model = sts_model().operation_model(operation)
    body = _members(model.output_shape, result) if model.output_shape is not None else ""
    namespace = sts_model().metadata["xmlNamespace"]
    return (
        f'<{operation}Response xmlns="{namespace}"><{operation}Result>{body}</{operation}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()


def sts_code(error: ServiceError, *, signing: bool = False) -> str:
    """STS's code for an error; `signing` for errors about the caller's own credentials."""
    if signing and error.code == "ExpiredTokenException":
        return "ExpiredToken"
    return _SIGV4_CODES.get(error.code, error.code)


def encode_error(
    error: ServiceError, request_id: str, *, code: str | None = None
) -> tuple[int, bytes]:
    """(HTTP status, STS's ErrorResponse XML)."""
    code = code or sts_code(error)
    status = _model_status().get(code) or _COMMON_STATUS.get(code, 400)
    fault = "Receiver" if status >= 500 else "Sender"
    namespace = sts_model().metadata["xmlNamespace"]
    return status, (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type><Code>{code}</Code>'
        f"<Message>{escape(error.message)}</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    ).encode()
