"""The raw RS512 signing rate: the ceiling of every operation that issues a token.

GetOpenIdToken and GetOpenIdTokenForDeveloperIdentity each sign one RS512 JWT with a 2048-bit
RSA key, so no server can issue tokens faster per core than `cryptography` signs. Measuring it in
the same run as the server figures cancels out the machine: the target is a fraction of this
number, not an absolute rate. With several processes it also shows what both cores allow.
"""

from __future__ import annotations

import base64
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signing_input() -> bytes:
    """A header.payload shaped like a Cognito Identity token (same size class, same claims)."""
    header = {"kid": "us-east-1-1", "typ": "JWS", "alg": "RS512"}
    now = int(time.time())
    claims = {
        "sub": "us-east-1:0f3b8d6e-5a4c-4f0e-9a1b-2c3d4e5f6a7b",
        "aud": "us-east-1:8a7b6c5d-4e3f-2a1b-0c9d-8e7f6a5b4c3d",
        "amr": ["unauthenticated"],
        "iss": "https://cognito-identity.amazonaws.com",
        "exp": now + 600,
        "iat": now,
    }
    return _b64(orjson.dumps(header)) + b"." + _b64(orjson.dumps(claims))


def sign_for(seconds: float, key_bits: int = 2048) -> tuple[int, float]:
    """Sign repeatedly for about `seconds`; return (signatures, elapsed seconds)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    message = _signing_input()
    pad = padding.PKCS1v15()
    digest = hashes.SHA512()
    key.sign(message, pad, digest)  # warm-up: first call builds blinding state
    count = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(50):
            key.sign(message, pad, digest)
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return count, now - started


def _use_every_cpu() -> None:
    """Worker initializer: undo the parent's `taskset` pinning, or N processes share one core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def raw_sign_rate(seconds: float = 3.0, processes: int = 1, key_bits: int = 2048) -> dict[str, Any]:
    """Signatures per second on `processes` processes at once.

    One process signs in this process, on whatever core it is pinned to (the per-core ceiling);
    several processes may use every CPU of the machine (the ceiling of a multi-worker server).
    """
    if processes <= 1:
        results = [sign_for(seconds, key_bits)]
    else:
        with ProcessPoolExecutor(max_workers=processes, initializer=_use_every_cpu) as pool:
            futures = [pool.submit(sign_for, seconds, key_bits) for _ in range(processes)]
            results = [f.result() for f in futures]
    rate = sum(count / elapsed for count, elapsed in results)
    return {
        "scenario": "raw-sign-rate",
        "alg": "RS512",
        "key_bits": key_bits,
        "processes": processes,
        "signs": sum(count for count, _ in results),
        "signs_per_s": round(rate, 1),
        "duration_s": round(max(elapsed for _, elapsed in results), 3),
    }
