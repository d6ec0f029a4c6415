"""Request decoding for AWS JSON 1.1: X-Amz-Target names the operation, the body is one object.

Types and constraints of the members are checked afterwards by constraints.py, which walks the
operation's input shape; decoding itself only has to produce a JSON object.
"""

from __future__ import annotations

from typing import Any

import orjson

from idpool.domain.errors import SerializationException, UnknownOperationException
from idpool.wire.model import operation_names, target_prefix

_PREFIX = target_prefix() + "."
_OPERATIONS = frozenset(operation_names())


def operation_from_target(target: str | None) -> str:
    if not target:
        raise UnknownOperationException("Missing X-Amz-Target header.")
    if not target.startswith(_PREFIX) or target[len(_PREFIX) :] not in _OPERATIONS:
        raise UnknownOperationException(f"Unknown operation {target[:200]!r}.")
    return target[len(_PREFIX) :]


def parse_body(body: bytes) -> dict[str, Any]:
    if not body or not body.strip():
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SerializationException(
            "Start of structure or map found where not expected."
            if body.lstrip()[:1] not in (b"{", b"[")
            else "The request body is not valid JSON."
        ) from exc
    if not isinstance(document, dict):
        raise SerializationException("Start of structure or map found where not expected.")
    return document
