"""Clock and id sources of production: the wall clock and the OS random generator."""

from __future__ import annotations

import os
import secrets
import time


class SystemClock:
    def now(self) -> float:
        return time.time()


class RandomIds:
    def uuid(self) -> str:
        """A random (version 4) UUID, formatted without building a `uuid.UUID` (hot path)."""
        raw = bytearray(os.urandom(16))
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def secret(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)
