"""The service's dependencies for tests that drive it without HTTP: real signer and vendor.

The signing key is made once per process (RSA key generation costs more than most tests).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from idpool.domain.ports import LoginVerifier, Store
from idpool.service.context import ServiceDeps
from idpool.service.system import RandomIds, SystemClock
from idpool.signing.jwt import JwtTokenSigner
from idpool.signing.keyring import Keyring
from idpool.signing.memory_store import MemoryKeyStore
from idpool.vending.local import LocalCredentialVendor


@cache
def shared_keyring() -> Keyring:
    """Made on a thread of its own, so that a test already inside an event loop can ask."""
    opening = Keyring.open(MemoryKeyStore(), "secret", time.time, "us-east-1")
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, opening).result()


def service_deps(store: Store, logins: LoginVerifier, **overrides: Any) -> ServiceDeps:
    """ServiceDeps on `store` with a real token signer and local credential vendor."""
    clock = overrides.pop("clock", None) or SystemClock()
    base: dict[str, Any] = {
        "store": store,
        "clock": clock,
        "ids": RandomIds(),
        "logins": logins,
        "signer": JwtTokenSigner(shared_keyring(), "https://idpool.test", offload=False),
        "vendor": LocalCredentialVendor(clock.now),
    }
    base.update(overrides)
    return ServiceDeps(**base)
