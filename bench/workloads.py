"""What virtual users send: fixed requests, signed requests, multi-step flows.

Everything that can be computed before the loop is: unsigned requests are complete byte
strings, signed ones have their bodies and body hashes ready and only the signature is redone
per request. Virtual user i starts at item i of the list, so connections spread over the users.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from bench.loadgen import Call, Step
from bench.sigv4_fast import body_hash
from bench.wire import RequestBuilder


class FixedRequests:
    """Unsigned requests built once, sent round-robin."""

    def __init__(self, requests: Sequence[bytes]) -> None:
        if not requests:
            raise ValueError("no requests to send")
        self._requests = list(requests)

    def virtual_user(self, index: int, builder: RequestBuilder) -> Step:
        requests = self._requests
        count = len(requests)
        if count == 1:
            only = requests[0]

            async def step_one(call: Call) -> bool:
                return await call(only) is not None

            return step_one
        position = [index % count]

        async def step(call: Call) -> bool:
            i = position[0]
            position[0] = i + 1 if i + 1 < count else 0
            return await call(requests[i]) is not None

        return step


class SignedRequests:
    """One signed operation over a list of bodies, round-robin; signed afresh per request."""

    def __init__(self, operation: str, bodies: Sequence[bytes]) -> None:
        if not bodies:
            raise ValueError("no requests to send")
        self._operation = operation
        self._items = [(body, body_hash(body)) for body in bodies]

    def virtual_user(self, index: int, builder: RequestBuilder) -> Step:
        items = self._items
        count = len(items)
        operation = self._operation
        sign = builder.signed
        position = [index % count]

        async def step(call: Call) -> bool:
            i = position[0]
            position[0] = i + 1 if i + 1 < count else 0
            body, digest = items[i]
            return await call(sign(operation, body, digest)) is not None

        return step


class ListWalk:
    """ListIdentities pages of `max_results`, each virtual user walking the pool with NextToken.

    Walking (rather than re-reading page one) is what exposes offset pagination: with keyset
    pagination every page costs the same, with OFFSET the late pages get slower.
    """

    def __init__(self, pool_id: str, max_results: int = 60) -> None:
        self._pool_id = pool_id
        self._max_results = max_results

    def virtual_user(self, index: int, builder: RequestBuilder) -> Step:
        base = {"IdentityPoolId": self._pool_id, "MaxResults": self._max_results}
        first = orjson.dumps(base)
        state: list[bytes] = [first]

        async def step(call: Call) -> bool:
            body = await call(builder.signed("ListIdentities", state[0]))
            if body is None:
                state[0] = first
                return False
            token = orjson.loads(body).get("NextToken")
            state[0] = orjson.dumps({**base, "NextToken": token}) if token else first
            return True

        return step


class DeviceFlow:
    """A new device: GetId (guest), then GetCredentialsForIdentity, then GetOpenIdToken."""

    def __init__(self, pool_id: str) -> None:
        self._pool_id = pool_id

    def virtual_user(self, index: int, builder: RequestBuilder) -> Step:
        get_id = builder.unsigned("GetId", orjson.dumps({"IdentityPoolId": self._pool_id}))
        unsigned = builder.unsigned

        async def step(call: Call) -> bool:
            body = await call(get_id)
            if body is None:
                return False
            identity = orjson.dumps({"IdentityId": orjson.loads(body)["IdentityId"]})
            if await call(unsigned("GetCredentialsForIdentity", identity)) is None:
                return False
            return await call(unsigned("GetOpenIdToken", identity)) is not None

        return step
