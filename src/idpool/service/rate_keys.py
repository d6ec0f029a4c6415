"""The request-rate quotas the service charges itself, by a name of its own.

Public calls are throttled against the pool's account, which is known only once the pool is
read, so the service charges them; every other call is charged by the edge before the service
runs. The wire's operation table (wire/operations.py) says which operation charges which key
and at what rate, so the service never names a wire operation.
"""

from __future__ import annotations

from enum import StrEnum


class RateKey(StrEnum):
    GET_ID = "get-id"
    OPEN_ID_TOKEN = "open-id-token"
    CREDENTIALS = "credentials"
    UNLINK = "unlink"
