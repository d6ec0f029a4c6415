"""Admin sessions of the console: signed cookies, CSRF tokens and a login rate limit.

The session key is derived from the admin password (or an explicit session secret), so
every replica configured alike accepts the same cookie without shared state, and changing
the password logs every session out. A CSRF token is an HMAC of the session cookie: forms
carry it, and a cross-site page can neither read it nor forge it. Signing out revokes the
session's nonce in this process (in every worker process of this server, with `--workers`)
until the cookie would have expired anyway.

Failed sign-ins are throttled per client (a token bucket: a burst, then one attempt per
refill interval, so no client is shut out for long), and a browser that signed in before
carries a signed device cookie that gives it a bucket of its own: an attacker guessing from
the operator's address (or behind the same proxy) cannot lock the operator out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import orjson

log = logging.getLogger("idpool.console")

COOKIE_NAME = "idpool_console"
DEVICE_COOKIE_NAME = "idpool_console_device"
DEVICE_SECONDS = 365 * 86400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class RevokedSessions:
    """Signed-out session nonces until their cookies expire: in memory, or in a directory.

    The directory form is what the worker processes of one server share (server/workers.py
    creates it, private to the server's user): one empty file per nonce, named by its
    SHA-256 and dated (mtime) at the cookie's expiry. Console requests are rare, so a
    `stat` per request costs nothing that matters.
    """

    def __init__(self, clock: Callable[[], float], directory: Path | None = None) -> None:
        self._clock = clock
        self._directory = directory
        self._memory: dict[str, float] = {}

    def __len__(self) -> int:
        if self._directory is None:
            return len(self._memory)
        return sum(1 for _ in os.scandir(self._directory))

    def prune(self) -> None:
        """Forget the nonces whose cookies have expired anyway."""
        now = self._clock()
        if self._directory is None:
            self._memory = {n: exp for n, exp in self._memory.items() if exp > now}
            return
        for entry in os.scandir(self._directory):
            try:
                if entry.stat().st_mtime <= now:
                    os.unlink(entry.path)
            except FileNotFoundError:  # another worker cleaned it up first
                continue

    def add(self, nonce: str, expires: float) -> None:
        if self._directory is None:
            self._memory[nonce] = expires
            return
        path = self._directory / hashlib.sha256(nonce.encode()).hexdigest()
        path.touch()
        os.utime(path, (expires, expires))

    def __contains__(self, nonce: str) -> bool:
        if self._directory is None:
            return nonce in self._memory
        path = self._directory / hashlib.sha256(nonce.encode()).hexdigest()
        try:
            return path.stat().st_mtime > self._clock()
        except FileNotFoundError:
            return False


class ConsoleAuth:
    def __init__(
        self,
        admin_user: str,
        admin_password: str,
        *,
        session_secret: str | None = None,
        session_seconds: int = 8 * 3600,
        clock: Callable[[], float],
        revoked_dir: Path | None = None,
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
        self._revoked = RevokedSessions(clock, revoked_dir)

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

    def _session(self, cookie: str | None) -> dict[str, object] | None:
        """The signed, unexpired document of a session cookie; None when forged or expired."""
        doc = self._signed(b"session", cookie)
        if doc is None or not isinstance(doc.get("u"), str):
            return None
        expires = doc.get("exp")
        if not isinstance(expires, int) or expires <= self._clock():
            return None
        return doc

    def _signed(self, purpose: bytes, cookie: str | None) -> dict[str, object] | None:
        if not cookie or "." not in cookie:
            return None
        encoded, signature = cookie.split(".", 1)
        try:
            payload, mac = _unb64(encoded), _unb64(signature)
            # Only the canonical spelling: base64's spare low bits must not make a second cookie.
            canonical = _b64(payload) == encoded and _b64(mac) == signature
            valid = canonical and hmac.compare_digest(mac, self._mac(purpose, payload))
            doc = orjson.loads(payload) if valid else None
        except (ValueError, orjson.JSONDecodeError):
            return None
        return doc if isinstance(doc, dict) else None

    def user_of(self, cookie: str | None) -> str | None:
        """The user a cookie names, or None when it is absent, forged, expired or signed out."""
        doc = self._session(cookie)
        if doc is None or str(doc.get("n")) in self._revoked:
            return None
        return str(doc["u"])

    def revoke(self, cookie: str) -> None:
        """Sign out: the cookie stops working here now, not when it expires."""
        self._revoked.prune()
        doc = self._session(cookie)
        if doc is None:
            return
        expires = doc["exp"]
        assert isinstance(expires, int)
        self._revoked.add(str(doc.get("n")), float(expires))

    def issue_device(self) -> str:
        """A long-lived cookie naming this browser, for the sign-in throttle only."""
        payload = orjson.dumps({"d": secrets.token_urlsafe(12)})
        return f"{_b64(payload)}.{_b64(self._mac(b'device', payload))}"

    def device_of(self, cookie: str | None) -> str | None:
        """The device id of a genuine device cookie (None when absent or forged)."""
        doc = self._signed(b"device", cookie)
        device = doc.get("d") if doc is not None else None
        return device if isinstance(device, str) else None

    def csrf_token(self, cookie: str) -> str:
        return _b64(self._mac(b"csrf", cookie.encode("ascii", "replace")))

    def check_csrf(self, cookie: str, token: str) -> bool:
        return hmac.compare_digest(self.csrf_token(cookie).encode(), token.encode("utf-8"))

    @property
    def max_age(self) -> int:
        return self._seconds


class LoginThrottle:
    """Failed sign-ins per client key: a burst of `limit`, then one more per `refill` seconds.

    A key is a client address, or a device id from a device cookie (which only a browser
    that signed in before holds). Per process, which is enough to make guessing the admin
    password slow (about 2 880 guesses a day per address); the table is bounded so that
    many addresses cannot grow it without limit. Only failures spend tokens; a success
    forgets the key.
    """

    def __init__(
        self, clock: Callable[[], float], *, limit: int = 10, refill: float = 30.0
    ) -> None:
        self._clock = clock
        self._limit = float(limit)
        self._refill = refill
        self._buckets: dict[str, tuple[float, float]] = {}

    def _tokens(self, key: str) -> float:
        tokens, at = self._buckets.get(key, (self._limit, self._clock()))
        return min(self._limit, tokens + (self._clock() - at) / self._refill)

    def blocked(self, key: str) -> bool:
        return self._tokens(key) < 1.0

    def failed(self, key: str) -> None:
        if len(self._buckets) > 10_000:
            # Forget keys whose bucket has refilled; if that is not enough, start afresh.
            self._buckets = {k: v for k, v in self._buckets.items() if self.blocked(k)}
            if len(self._buckets) > 10_000:
                self._buckets.clear()
        self._buckets[key] = (max(0.0, self._tokens(key) - 1.0), self._clock())

    def succeeded(self, key: str) -> None:
        self._buckets.pop(key, None)


class ClientAddress:
    """The client's address, read from X-Forwarded-For only when the peer is a trusted proxy.

    The header is walked from the right (each proxy appends the address it saw), skipping
    trusted proxies; the first address that is not one is the client. Without trusted proxies
    the header is ignored: anyone can write it.
    """

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        networks = []
        for entry in trusted:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                # Safe side: an entry that names no address trusts no one.
                log.warning("--console-trusted-proxies: %r is not an address or CIDR", entry)
        self._trusted = tuple(networks)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def of(self, peer: str, headers: Mapping[str, str]) -> str:
        if not self._trusted or not self._is_trusted(peer):
            return peer
        hops = [h.strip() for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop
        return hops[0] if hops else peer
