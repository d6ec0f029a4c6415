"""The gateway endpoint's verification rate, in process: `python -m bench.gatewayrate`.

One verification is what `/gateway/auth` does per request, minus HTTP: parse SigV4, open the
sealed session token (AES-GCM), derive the secret (HMAC), check the signature, and read the
identity from the store (SQLite in a temporary directory) to see it still stands. It also
reports the mint rate of vended credentials (what GetCredentialsForIdentity adds to a request).
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from idpool.auth.callers import LiveSigner
from idpool.auth.principals import PrincipalDirectory
from idpool.auth.sessions import SessionLiveness
from idpool.auth.sigv4 import SigV4Verifier
from idpool.domain.records import Identity, Pool, VendedSession
from idpool.server.gateway import GatewayAuth
from idpool.storage.dialects import make_source
from idpool.storage.migrate import ensure_current
from idpool.storage.sql import SqlStore
from idpool.vending.sealed import CredentialSealer

POOL = "us-east-1:00000000-0000-4000-8000-000000000001"
IDENTITY = "us-east-1:00000000-0000-4000-8000-000000000002"


async def _measure(url: str, seconds: float) -> dict[str, float]:
    store = SqlStore(make_source(url))
    async with store.transaction() as tx:
        await tx.insert_pool(Pool(POOL, "123456789012", "us-east-1", "bench", True))
        await tx.insert_identity(Identity(IDENTITY, POOL, "123456789012", 0.0, 0.0))
    sealer = CredentialSealer("bench-secret")
    session = VendedSession(
        "123456789012",
        "arn:aws:iam::123456789012:role/r",
        "s",
        IDENTITY,
        POOL,
        False,
        "",
        time.time() + 3600,
    )
    started, minted = time.perf_counter(), 0
    while time.perf_counter() - started < seconds / 2:
        credentials = sealer.mint(session)
        minted += 1
    mint_rate = minted / (time.perf_counter() - started)

    request = AWSRequest(
        method="GET",
        url="http://api.example.com/items?colour=blue",
        headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()},
    )
    SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_key, credentials.session_token),
        "execute-api",
        "us-east-1",
    ).add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "api.example.com"
    verifier = SigV4Verifier(
        PrincipalDirectory([]),
        mode="strict",
        clock=time.time,
        service="execute-api",
        sessions=sealer,
    )
    gateway = GatewayAuth(LiveSigner(verifier, SessionLiveness(store)))
    started, verified = time.perf_counter(), 0
    while time.perf_counter() - started < seconds / 2:
        status, _, reason = await gateway.check("GET", "/items", "colour=blue", headers, b"")
        if status != 200:
            raise RuntimeError(f"verification failed: {reason}")
        verified += 1
    verify_rate = verified / (time.perf_counter() - started)
    await store.close()
    return {"mint_per_s": round(mint_rate), "gateway_verify_per_s": round(verify_rate)}


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 4.0
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        ensure_current(url, migrate=True)
        result = asyncio.run(_measure(url, seconds))
    print(orjson.dumps({"benchmark": "gateway", "store": "sqlite", **result}).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
