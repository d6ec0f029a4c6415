"""Clock and id sources of production: the wall clock and the OS random generator."""

from __future__ import annotations

import secrets
import time
import uuid


class SystemClock:
    def now(self) -> float:
        return time.time()


class RandomIds:
    def uuid(self) -> str:
        return str(uuid.uuid4())

    def secret(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)
