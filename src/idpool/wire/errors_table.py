"""HTTP status per error code: the one table the model lacks (it carries no httpStatusCode).

The live service answers 400 for every client error, NotAuthorized and ResourceNotFound
included (docs/compatibility.md, "Wire"), and 500 only for InternalErrorException, which SDKs retry.
"""

from __future__ import annotations

SERVER_FAULTS = frozenset({"InternalErrorException", "InternalFailure", "ServiceUnavailable"})
SPECIAL_STATUS = {
    "RequestEntityTooLargeException": 413,
    "RequestHeaderFieldsTooLargeException": 431,
    "RequestTimeoutException": 408,
}


def status_for(code: str) -> int:
    if code in SERVER_FAULTS:
        return 500
    return SPECIAL_STATUS.get(code, 400)
