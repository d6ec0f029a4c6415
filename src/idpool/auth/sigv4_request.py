"""A SigV4-signed request taken apart: the canonical request and the signature's own fields.

The canonical pieces follow botocore's `SigV4Auth` exactly (path normalization via
`botocore.utils.normalize_url_path`, the same quoting and header trimming); parsing turns the
Authorization header or a presigned query into a `SignedRequest`, raising the AWS error a real
endpoint sends for each malformed part. auth/sigv4.py verifies what this module parses.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import quote, unquote_plus

from botocore.utils import normalize_url_path

from idpool.domain.errors import (
    IncompleteSignatureException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_PRESIGN_EXPIRES = 604_800  # seven days, the SigV4 limit for presigned requests

_QUERY_AUTH_KEYS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)
# Any of these in the query means the client tried the presigned form; a lone X-Amz-Date does not.
QUERY_AUTH_MARKERS = frozenset(("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"))
# Headers that choose or shape the operation; strict mode requires them signed when present.
_QUOTE_SAFE = "-_.~"
_AUTH_SEPARATORS = re.compile(r"[,\s]+")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The SigV4 parts of one request, parsed but not yet checked."""

    form: Literal["header", "query"]
    credential: str
    access_key_id: str
    scope_date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # ISO-8601 basic, as it goes into the string to sign
    epoch: int
    date_header: str | None  # which header carried the date (header form only)
    expires: int | None  # X-Amz-Expires (query form only)
    security_token: str | None

    @property
    def scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/{self.terminator}"


# --- canonical request pieces (the same rules as botocore.auth.SigV4Auth) -----------------------


def parse_query(query_string: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs in order.

    A raw '+' is a space: RFC 3986 encoders send a plus as %2B, so a bare '+' only comes from
    form-style encoders (botocore's own `AWSRequest.prepare` among them), which sign it as %20.
    """
    pairs: list[tuple[str, str]] = []
    for piece in query_string.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


def canonical_query_string(pairs: list[tuple[str, str]], *, exclude: str | None = None) -> str:
    """Names and values URI-encoded the AWS way, sorted by encoded name, then value."""
    encoded = sorted(
        (quote(name, safe=_QUOTE_SAFE), quote(value, safe=_QUOTE_SAFE))
        for name, value in pairs
        if name != exclude
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_path(raw_path: str) -> str:
    """The path as sent on the wire, dot segments removed and URI-encoded again (non-S3 rule)."""
    return quote(normalize_url_path(raw_path), safe="/~")


def canonical_request(
    method: str,
    raw_path: str,
    canonical_query: str,
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    """The SigV4 canonical request over exactly the declared signed headers (lowercase names)."""
    names = sorted(set(signed_headers))
    header_lines = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)
    return "\n".join(
        (
            method.upper(),
            canonical_path(raw_path),
            canonical_query,
            header_lines,
            ";".join(names),
            payload_hash,
        )
    )


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode("utf-8"), "sha256")
    key = hmac.digest(key, region.encode("utf-8"), "sha256")
    key = hmac.digest(key, service.encode("utf-8"), "sha256")
    return hmac.digest(key, TERMINATOR.encode(), "sha256")


# --- parsing --------------------------------------------------------------------------------


def format_time(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime(SIGV4_TIMESTAMP)


def _bad_iso_date(value: str) -> IncompleteSignatureException:
    return IncompleteSignatureException(
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


@functools.lru_cache(maxsize=256)
def _parse_basic_timestamp(value: str) -> int:
    """Epoch seconds of `YYYYMMDDTHHMMSSZ`; anything else is an incomplete signature.

    Cached: every client signs with the current second, so most requests repeat a value
    parsed moments ago (a refused value raises and is not cached).
    """
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        raise _bad_iso_date(value)
    digits = value[:8] + value[9:15]
    if not digits.isascii() or not digits.isdigit():
        raise _bad_iso_date(value)
    try:
        moment = datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError as error:
        raise _bad_iso_date(value) from error
    return calendar.timegm(moment.utctimetuple())


def _parse_http_date(value: str) -> tuple[str, int]:
    """A `Date:` header (RFC 7231) as the basic-format timestamp SigV4 signs, plus epoch."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError) as error:
        raise _bad_iso_date(value) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    epoch = calendar.timegm(moment.utctimetuple())
    return format_time(epoch), epoch


def _split_credential(credential: str) -> tuple[str, str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'"
        )
    return parts[0], parts[1], parts[2], parts[3], parts[4]


def _signed_header_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in value.split(";") if name.strip())


def parse_authorization_header(authorization: str, headers: Mapping[str, str]) -> SignedRequest:
    """Parse `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`."""
    algorithm, _, rest = authorization.partition(" ")
    params: dict[str, str] = {}
    # AWS splits on commas *and* whitespace, so "Credential= AK/…" fails on the "AK/…" token.
    for item in _AUTH_SEPARATORS.split(rest):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            raise IncompleteSignatureException(
                f"'{item}' not a valid key=value pair (missing equal-sign) in Authorization "
                f"header: '{authorization}'."
            )
        params[name] = value

    date_header: str | None = None
    if "x-amz-date" in headers:
        date_header = "x-amz-date"
    elif "date" in headers:
        date_header = "date"
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in params
    ]
    if date_header is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise IncompleteSignatureException(" ".join([*problems, f"Authorization={authorization}"]))
    if algorithm != ALGORITHM:
        # [I] AWS's exact wording for a foreign algorithm with all parameters present is unknown.
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{algorithm}'. Sign requests with '{ALGORITHM}'."
        )
    assert date_header is not None
    if date_header == "x-amz-date":
        timestamp = headers["x-amz-date"].strip()
        epoch = _parse_basic_timestamp(timestamp)
    else:
        timestamp, epoch = _parse_http_date(headers["date"])

    return _signed_request(
        "header",
        params["Credential"],
        params["SignedHeaders"],
        params["Signature"],
        timestamp,
        epoch,
        date_header=date_header,
        expires=None,
        security_token=headers.get("x-amz-security-token"),
    )


def _signed_request(
    form: Literal["header", "query"],
    credential: str,
    signed_headers: str,
    signature: str,
    timestamp: str,
    epoch: int,
    *,
    date_header: str | None,
    expires: int | None,
    security_token: str | None,
) -> SignedRequest:
    """Both signature forms carry the same parts; only where they are read from differs."""
    access_key, scope_date, region, service, terminator = _split_credential(credential)
    return SignedRequest(
        form=form,
        credential=credential,
        access_key_id=access_key,
        scope_date=scope_date,
        region=region,
        service=service,
        terminator=terminator,
        signed_headers=_signed_header_names(signed_headers),
        signature=signature,
        timestamp=timestamp,
        epoch=epoch,
        date_header=date_header,
        expires=expires,
        security_token=security_token,
    )


def parse_query_auth(params: Mapping[str, str]) -> SignedRequest:
    """Parse the presigned form (`X-Amz-Algorithm`, `X-Amz-Credential`, … in the query)."""
    missing = [name for name in _QUERY_AUTH_KEYS if name not in params]
    if missing:
        raise IncompleteSignatureException(
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters."
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignatureException(
            f"X-Amz-Algorithm only supports '{ALGORITHM}', got '{params['X-Amz-Algorithm']}'."
        )
    expires: int | None = None
    raw_expires = params.get("X-Amz-Expires")
    if raw_expires is not None:
        if not (raw_expires.isascii() and raw_expires.isdigit()) or not (
            1 <= int(raw_expires) <= MAX_PRESIGN_EXPIRES
        ):
            raise IncompleteSignatureException(
                f"X-Amz-Expires must be a whole number of seconds from 1 to {MAX_PRESIGN_EXPIRES}"
                f" (seven days), got '{raw_expires}'."
            )
        expires = int(raw_expires)
    timestamp = params["X-Amz-Date"]
    epoch = _parse_basic_timestamp(timestamp)
    return _signed_request(
        "query",
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        timestamp,
        epoch,
        date_header=None,
        expires=expires,
        security_token=params.get("X-Amz-Security-Token"),
    )
