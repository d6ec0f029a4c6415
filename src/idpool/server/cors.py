"""Allowed browser origins: normalised once at start-up, refusals explained in the log.

A browser's `Origin` header is `scheme://host[:port]`, lower case, with the default port left
out and never a path. An entry written as `http://app.example.com:5281/` or
`HTTPS://App.example.com:443` therefore never matched when compared as written; start-up now
turns such entries into the origin they mean and warns about what it changed. Entries that
cannot name an origin (no scheme, a query, user info) are dropped with a warning rather than
guessed at. A refused preflight is logged at info with the origin and what it asked for, and
a hint when an allowed entry differs only by port or scheme.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

log = logging.getLogger("idpool.cors")

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LOGGED = 200
LOG_EVERY_SECONDS = 60.0


def normalise_origin(entry: str) -> tuple[str | None, str | None]:
    """(the origin an entry names, or None) and a warning when the entry was not exact."""
    text = entry.strip()
    if text == "*":
        return "*", None
    if "://" not in text:
        return None, (
            f"CORS origin {text!r} has no scheme and never matches a browser's Origin; "
            f"write https://{text} or http://{text}"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None, f"CORS origin {text!r} is not a valid origin; ignored"
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.username is not None:
        return None, f"CORS origin {text!r} is not an http(s) scheme://host[:port]; ignored"
    if parts.query or parts.fragment:
        return None, f"CORS origin {text!r} has a query or fragment; ignored"
    if ":" in host:
        host = f"[{host}]"
    origin = f"{scheme}://{host}"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        origin = f"{origin}:{port}"
    if parts.path not in ("", "/"):
        return origin, (f"CORS origin {text!r} has a path; an origin never does: using {origin!r}")
    if origin != text:
        return origin, f"CORS origin {text!r} normalised to {origin!r}"
    return origin, None


def normalise_origins(entries: Iterable[str]) -> tuple[str, ...]:
    """The allowed origins, each once; warnings for every entry that was not exact."""
    origins: list[str] = []
    for entry in entries:
        if not entry.strip():
            continue
        origin, warning = normalise_origin(entry)
        if warning is not None:
            log.warning(warning)
        if origin is not None and origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _near_misses(origin: str, allowed: Iterable[str]) -> list[str]:
    """Allowed entries on the same host, differing only by scheme or port."""
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return []
    return [a for a in allowed if a != "*" and host and urlsplit(a).hostname == host]


class RefusalLog:
    """Logs refused preflights, at most once a minute per origin (unsigned callers send them,
    so the log must not become a way to flood the disk); the table of origins is bounded."""

    def __init__(self, allowed: tuple[str, ...], clock: Callable[[], float] = time.monotonic):
        self._allowed = allowed
        self._clock = clock
        self._last: dict[str, float] = {}

    def refused(self, origin: str, method: str | None, headers: str | None) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        now = self._clock()
        key = origin[:MAX_LOGGED]
        last = self._last.get(key)
        if last is not None and now - last < LOG_EVERY_SECONDS:
            return
        if len(self._last) >= 1000:
            self._last.clear()
        self._last[key] = now
        near = _near_misses(origin, self._allowed)
        log.info(
            "CORS preflight refused: origin not allowed",
            extra={
                "origin": key,
                "requested_method": (method or "")[:MAX_LOGGED],
                "requested_headers": (headers or "")[:MAX_LOGGED],
                "allowed_origins": ",".join(self._allowed)[:MAX_LOGGED],
                **({"hint": f"allowed on this host: {', '.join(near)}"} if near else {}),
            },
        )
