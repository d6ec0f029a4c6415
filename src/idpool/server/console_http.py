"""The console's HTTP plumbing: its request and response, URLs, cookies, static files.

Kept apart from the pages (server/console.py) so that what reaches a page is already parsed:
path segments percent-decoded one by one, the form bounded, redirects only inside the console.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

from idpool.server.console_auth import COOKIE_NAME
from idpool.server.types import Scope

PREFIX = "/console"
ASSETS = Path(__file__).parent / "console_assets"
STATIC_FILES = {"console.css": b"text/css; charset=utf-8"}
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    content_type: bytes = b"text/html; charset=utf-8"
    cache: bytes = b"no-store"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    segments: tuple[str, ...]
    query: Mapping[str, str]
    form: Mapping[str, str]
    cookie: str | None
    user: str | None
    client: str
    secure: bool
    device: str | None = None


def url(*parts: str, **query: str | int | None) -> str:
    """A console URL; every path segment is quoted whole (ids contain ':')."""
    path = "/".join(quote(str(p), safe="") for p in parts)
    base = f"{PREFIX}/{path}" if path else f"{PREFIX}/"
    params = {k: str(v) for k, v in query.items() if v is not None and v != ""}
    return f"{base}?{urlencode(params)}" if params else base


def when(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def encode_after(after: tuple[float, str] | None) -> str | None:
    return None if after is None else f"{after[0]!r}~{after[1]}"


def decode_after(raw: str | None) -> tuple[float, str] | None:
    """A keyset position from a query string; anything malformed means the first page."""
    if not raw or "~" not in raw:
        return None
    at, _, last_id = raw.partition("~")
    try:
        value = float(at)
    except ValueError:
        return None
    return (value, last_id) if math.isfinite(value) else None


def int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None


def cookie_value(header: str | None, wanted: str = COOKIE_NAME) -> str | None:
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == wanted:
            return value
    return None


def segments_of(scope: Scope) -> tuple[str, ...]:
    """Path segments after /console, each percent-decoded on its own (so %2F stays inside)."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    rest = raw.decode("latin-1").split("?", 1)[0][len(PREFIX) :]
    return tuple(
        unquote(part, encoding="utf-8", errors="replace") for part in rest.split("/") if part
    )


def safe_next(target: str | None) -> str:
    """Only same-console paths, so the login form cannot redirect off-site."""
    if target and target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return url("pools")


def current_path(request: Request) -> str:
    if request.method != "GET":
        return url("pools")
    path = url(*request.segments) if request.segments else url("pools")
    return f"{path}?{urlencode(dict(request.query))}" if request.query else path


def static_file(name: str) -> Response:
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        return Response(404, b"Not found", content_type=b"text/plain")
    body = (ASSETS / name).read_bytes()
    return Response(200, body, content_type=content_type, cache=b"public, max-age=3600")


def redirect(location: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(303, b"", [(b"location", location.encode("latin-1")), *(headers or [])])


def set_cookie(
    value: str, max_age: int, secure: bool, name: str = COOKIE_NAME, path: str = PREFIX
) -> tuple[bytes, bytes]:
    parts = [
        f"{name}={value}",
        f"Path={path}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return (b"set-cookie", "; ".join(parts).encode("latin-1"))
