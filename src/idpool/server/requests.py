"""Reading an ASGI request, once for every endpoint of the edge: its headers and a bounded body.

Every reader of a body (the API, the gateway auth endpoint, the console's forms) must stop at
a size limit and, where the caller says so, at one deadline for the whole body: a client that
dribbles a byte every few seconds must not hold a connection for ever.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum

from idpool.server.types import Receive, Scope


def headers_of(scope: Scope) -> dict[str, str]:
    """Header names lower-cased; values as latin-1, as ASGI delivers them."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


class BodyEnd(Enum):
    COMPLETE = "complete"
    TOO_LARGE = "too large"
    DISCONNECTED = "disconnected"
    TIMED_OUT = "timed out"


@dataclass(frozen=True, slots=True)
class Body:
    """What was read (all of it when `end` is COMPLETE, else what came before the stop)."""

    data: bytes
    end: BodyEnd


async def read_body(receive: Receive, limit: int, deadline: float | None) -> Body:
    """Read the body up to `limit` bytes and within `deadline` seconds (None: no deadline).

    asyncio.timeout, not wait_for: no task per request on the hot path.
    """
    chunks: list[bytes] = []
    size = 0
    more = True
    end = BodyEnd.COMPLETE
    try:
        async with asyncio.timeout(deadline):
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    end = BodyEnd.DISCONNECTED
                    break
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    end = BodyEnd.TOO_LARGE
                    break
                chunks.append(chunk)
                more = message.get("more_body", False)
    except TimeoutError:
        end = BodyEnd.TIMED_OUT
    return Body(chunks[0] if len(chunks) == 1 else b"".join(chunks), end)
