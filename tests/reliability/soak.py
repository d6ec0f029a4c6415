"""A memory soak: many requests of every common kind against one server process, RSS measured.

Shared by the CI-sized test (tests/reliability/test_resources.py) and the long run
(bench/soak.py). The mix covers the paths that allocate per request: writes, token signing,
credential minting, signed admin reads, and each kind of error answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.reliability.conftest import DEV, FB
from tests.reliability.support import ServerProcess, api_headers, call, ok, social_pool

ACCOUNT = "999900000040"
ROLE = "arn:aws:iam::123456789012:role/soak"
DISTINCT_USERS = 500


@dataclass
class SoakResult:
    requests: int
    seconds: float
    rss_before: int
    rss_after: int
    rss_peak: int
    answers: Counter[str] = field(default_factory=Counter)

    @property
    def growth(self) -> int:
        return self.rss_after - self.rss_before

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(self.requests / self.seconds, 1),
            "rss_before_mib": round(self.rss_before / 2**20, 1),
            "rss_after_mib": round(self.rss_after / 2**20, 1),
            "rss_peak_mib": round(self.rss_peak / 2**20, 1),
            "rss_growth_mib": round(self.growth / 2**20, 1),
            "answers": dict(sorted(self.answers.items())),
        }


def prepare(url: str) -> tuple[str, str]:
    """A pool with roles and one guest identity to aim the mix at."""
    with httpx.Client(base_url=url, timeout=20) as client:
        pool_id = social_pool(client, "soak", DEV, ROLE, access_key=ACCOUNT)
        guest = ok(call(client, "GetId", {"IdentityPoolId": pool_id}))["IdentityId"]
    return str(pool_id), str(guest)


def mix(n: int, pool_id: str, guest: str) -> tuple[str, Any]:
    user = n % DISTINCT_USERS
    kind = n % 10
    if kind == 0:
        return "GetId", {"IdentityPoolId": pool_id}
    if kind == 1:
        return "GetId", {"IdentityPoolId": pool_id, "Logins": {FB: f"soak-{user}"}}
    if kind == 2:
        return "GetOpenIdToken", {"IdentityId": guest}
    if kind == 3:
        return "GetCredentialsForIdentity", {"IdentityId": guest}
    if kind == 4:
        return "DescribeIdentityPool", {"IdentityPoolId": pool_id}
    if kind == 5:
        return "GetId", {"IdentityPoolId": "not a pool id"}
    if kind == 6:
        return "GetId", {"IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000"}
    if kind == 7:
        return "ListIdentities", {"IdentityPoolId": pool_id, "MaxResults": 10}
    if kind == 8:
        return "GetOpenIdTokenForDeveloperIdentity", {
            "IdentityPoolId": pool_id,
            "Logins": {DEV: f"soak-dev-{user}"},
        }
    return "GetId", ["not", "an", "object"]


class RawConnection:
    """One keep-alive HTTP/1.1 connection writing prepared bytes.

    httpx costs over a millisecond of client CPU per request, which on a small CI machine
    makes the client, not the server, the thing being measured.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


class RequestCache:
    """Serialized (and, for admin calls, signed) requests, built once per distinct body.

    In the default lax auth mode the server checks a signature's form, not its age, so a
    signed request can be replayed; the soak then measures the server, not botocore.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._netloc = url.split("://", 1)[1]
        self._cache: dict[tuple[str, str], bytes] = {}

    def get(self, operation: str, params: Any) -> bytes:
        body = json.dumps(params)
        key = (operation, body)
        cached = self._cache.get(key)
        if cached is None:
            raw = body.encode()
            headers = api_headers(self._url, operation, raw, access_key=ACCOUNT)
            lines = ["POST / HTTP/1.1", f"host: {self._netloc}", f"content-length: {len(raw)}"]
            lines += [
                f"{k}: {v}" for k, v in headers.items() if k not in ("host", "content-length")
            ]
            cached = ("\r\n".join(lines) + "\r\n\r\n").encode() + raw
            self._cache[key] = cached
        return cached


async def _drive(
    server: ServerProcess,
    target: tuple[str, str],
    start: int,
    count: int,
    concurrency: int,
    result: SoakResult,
    requests: RequestCache,
) -> None:
    pool_id, guest = target
    counter = iter(range(start, start + count))

    async def worker() -> None:
        connection = await RawConnection.open(server.port)
        try:
            for n in counter:
                operation, params = mix(n, pool_id, guest)
                status, body = await connection.send(requests.get(operation, params))
                code = json.loads(body).get("__type", "OK") if body else "-"
                result.answers[f"{operation}:{status}:{code}"] += 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def soak(
    server: ServerProcess, requests: int, *, warmup: int = 2_000, concurrency: int = 16
) -> SoakResult:
    """Warm up (caches, pools, allocator), measure RSS, run `requests`, measure again."""
    target = prepare(server.url)
    requests_cache = RequestCache(server.url)
    warm = SoakResult(0, 0.0, 0, 0, 0)
    asyncio.run(_drive(server, target, 0, warmup, concurrency, warm, requests_cache))
    result = SoakResult(requests, 0.0, server.rss_bytes(), 0, 0)
    peak = result.rss_before
    started = time.monotonic()
    chunk = max(requests // 10, 1)
    for offset in range(0, requests, chunk):
        asyncio.run(
            _drive(
                server,
                target,
                warmup + offset,
                min(chunk, requests - offset),
                concurrency,
                result,
                requests_cache,
            )
        )
        peak = max(peak, server.rss_bytes())
    result.seconds = time.monotonic() - started
    result.rss_after = server.rss_bytes()
    result.rss_peak = peak
    return result
