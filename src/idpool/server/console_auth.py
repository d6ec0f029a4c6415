"""Admin sessions of the console: signed cookies, CSRF tokens and a login rate limit.

The session key is derived from the admin password (or an explicit session secret), so
every replica configured alike accepts the same cookie without shared state, and changing
the password logs every session out. A CSRF token is an HMAC of the session cookie: forms
carry it, and a cross-site page can neither read it nor forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Callable

import orjson

COOKIE_NAME = "idpool_console"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class ConsoleAuth:
    def __init__(
        self,
        admin_user: str,
        admin_password: str,
        *,
        session_secret: str | None = None,
        session_seconds: int = 8 * 3600,
        clock: Callable[[], float],
    ) -> None:
        if not admin_password:
            raise ValueError("the admin console needs an admin password")
        self._user_digest = _digest(admin_user)
        self._password_digest = _digest(admin_password)
        material = session_secret or f"{admin_user}\x1f{admin_password}"
        self._key = hmac.new(
            material.encode("utf-8", "surrogatepass"), b"idpool console session v1", "sha256"
        ).digest()
        self._seconds = session_seconds
        self._clock = clock

    def check_credentials(self, user: str, password: str) -> bool:
        """Compare digests in constant time; both comparisons always run."""
        user_ok = hmac.compare_digest(_digest(user), self._user_digest)
        password_ok = hmac.compare_digest(_digest(password), self._password_digest)
        return user_ok & password_ok

    def _mac(self, purpose: bytes, payload: bytes) -> bytes:
        return hmac.new(self._key, purpose + b"\x00" + payload, "sha256").digest()

    def issue(self, user: str) -> str:
        # The nonce makes every session distinct, so a CSRF token fits exactly one session.
        expires = int(self._clock()) + self._seconds
        payload = orjson.dumps({"u": user, "exp": expires, "n": secrets.token_urlsafe(12)})
        return f"{_b64(payload)}.{_b64(self._mac(b'session', payload))}"

    def user_of(self, cookie: str | None) -> str | None:
        """The user a cookie names, or None when it is absent, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        encoded, signature = cookie.split(".", 1)
        try:
            payload = _unb64(encoded)
            valid = hmac.compare_digest(_unb64(signature), self._mac(b"session", payload))
            doc = orjson.loads(payload) if valid else None
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("u"), str):
            return None
        expires = doc.get("exp")
        if not isinstance(expires, int) or expires <= self._clock():
            return None
        return str(doc["u"])

    def csrf_token(self, cookie: str) -> str:
        return _b64(self._mac(b"csrf", cookie.encode("ascii", "replace")))

    def check_csrf(self, cookie: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(cookie).encode(), token.encode("utf-8"))

    @property
    def max_age(self) -> int:
        return self._seconds


class LoginThrottle:
    """At most `limit` failed logins per client address per `window` seconds.

    Per process, which is enough to make guessing the admin password slow; the table is
    bounded so that many addresses cannot grow it without limit.
    """

    def __init__(
        self, clock: Callable[[], float], *, limit: int = 10, window: float = 300.0
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        horizon = self._clock() - self._window
        while times and times[0] <= horizon:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self._limit

    def failed(self, client: str) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()
        times = self._recent(client)
        times.append(self._clock())
        self._failures[client] = times

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
