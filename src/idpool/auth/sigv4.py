"""AWS Signature Version 4 verification: who signed this request, and is the signature good?

Runs in the pipeline after the operation is named and before constraints, for every request
(public operations may be signed too). It returns None for an unsigned request and lets the
pipeline decide whether that is allowed; every malformed or wrong signature raises the AWS error a
real endpoint would send.

The canonical request is rebuilt from the *signed* headers only, the way the AWS server side does:
botocore's signer decides which headers to sign from what it has, but a verifier must honour
whatever list the client declared (including headers botocore would never sign). The pieces follow
botocore's `SigV4Auth` exactly (path normalization via `botocore.utils.normalize_url_path`, the
same quoting and header trimming); `tests/unit/test_sigv4.py` proves the result identical to
botocore's own `canonical_request` and signature for random requests.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import quote, unquote_plus

from botocore.utils import normalize_url_path

from idpool.auth.principals import (
    Principal,
    PrincipalDirectory,
    PrincipalEntry,
    lax_account_for,
)
from idpool.domain.errors import (
    ExpiredTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
    UnrecognizedClientException,
)
from idpool.domain.ids import DEFAULT_ACCOUNT, is_region
from idpool.domain.ports import SessionOpener

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_PRESIGN_EXPIRES = 604_800  # seven days, the SigV4 limit for presigned requests

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired."

_QUERY_AUTH_KEYS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)
# Any of these in the query means the client tried the presigned form; a lone X-Amz-Date does not.
_QUERY_AUTH_MARKERS = frozenset(("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"))
# Headers that choose or shape the operation; strict mode requires them signed when present.
_OPERATION_HEADERS = ("x-amz-target", "content-type")
_KEY_CACHE_LIMIT = 1024
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


def _format_time(epoch: float) -> str:
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
    return _format_time(epoch), epoch


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


# --- the verifier -------------------------------------------------------------------------


class SigV4Verifier:
    """Checks SigV4 on incoming requests against a PrincipalDirectory.

    strict: the key must be known, the signature must match, the date must be within
    `max_skew_seconds` of `clock()`. lax: the signature is parsed and its structure and
    credential scope are checked, but neither the key, the signature nor the time is; the
    account comes from the directory when the key is known, else `lax_account_for`.
    """

    def __init__(
        self,
        directory: PrincipalDirectory,
        *,
        mode: Literal["strict", "lax"],
        clock: Callable[[], float],
        service: str = "cognito-identity",
        max_skew_seconds: int = 300,
        default_account: str = DEFAULT_ACCOUNT,
        regions: frozenset[str] | None = None,
        sessions: SessionOpener | None = None,
    ) -> None:
        if mode not in ("strict", "lax"):
            raise ValueError(f"mode must be 'strict' or 'lax', got {mode!r}")
        self._directory = directory
        self._mode = mode
        self._clock = clock
        self._service = service
        self._skew = max_skew_seconds
        self._default_account = default_account
        self._regions = regions
        self._sessions = sessions
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    @property
    def mode(self) -> Literal["strict", "lax"]:
        return self._mode

    def _entry(self, signed: SignedRequest) -> PrincipalEntry | None:
        """A configured key, else credentials idpool vended (opened from their session token)."""
        entry = self._directory.entry(signed.access_key_id)
        if entry is not None or self._sessions is None or signed.security_token is None:
            return entry
        opened = self._sessions.open(signed.access_key_id, signed.security_token)
        if opened is None:
            return None
        secret, session = opened
        return PrincipalEntry(
            signed.access_key_id,
            secret,
            session.account_id,
            signed.security_token,
            session.expires_at,
            session,
        )

    def verify(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        body_forwarded: bool = True,
    ) -> Principal | None:
        """The signer of the request, or None when it carries no SigV4 at all.

        `path` and `query_string` are as sent on the wire (still percent-encoded); `headers` has
        lowercase names. `body_forwarded=False` (a gateway's auth subrequest, which carries
        headers only) takes the payload hash from a signed `x-amz-content-sha256` header.
        """
        authorization = headers.get("authorization", "").strip()
        pairs = parse_query(query_string) if query_string else []
        query_auth = {name: value for name, value in reversed(pairs) if name.startswith("X-Amz-")}
        presigned = not _QUERY_AUTH_MARKERS.isdisjoint(query_auth)
        if not authorization and not presigned:
            return None
        if authorization and presigned:
            raise IncompleteSignatureException(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or "
                "the Authorization header should be specified."
            )
        signed = (
            parse_authorization_header(authorization, headers)
            if authorization
            else parse_query_auth(query_auth)
        )
        self._check_scope(signed)
        self._check_signed_headers(signed)
        if not signed.access_key_id:
            raise UnrecognizedClientException(INVALID_TOKEN)

        if self._mode == "lax":
            known = self._entry(signed)
            if known is not None:
                return Principal(
                    signed.access_key_id,
                    known.account_id,
                    signed.region,
                    verified=False,
                    session=known.session,
                )
            account = lax_account_for(signed.access_key_id, self._default_account)
            return Principal(signed.access_key_id, account, signed.region, verified=False)
        return self._verify_strict(signed, method, path, pairs, headers, body, body_forwarded)

    def _verify_strict(
        self,
        signed: SignedRequest,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
        body_forwarded: bool = True,
    ) -> Principal:
        """Coverage, time, key, token, payload hash, then the signature: cheapest first."""
        _check_coverage(signed, headers)
        now = self._clock()
        self._check_time(signed, now)
        entry = self._entry(signed)
        if entry is None:
            raise UnrecognizedClientException(INVALID_TOKEN)
        if entry.expired(now):
            raise ExpiredTokenException(EXPIRED_TOKEN)
        if not _same_token(entry.session_token, signed.security_token):
            raise UnrecognizedClientException(INVALID_TOKEN)

        payload_hash = hashlib.sha256(body).hexdigest()
        if not body_forwarded and "x-amz-content-sha256" in signed.signed_headers:
            # The body stayed with the gateway: the signature covers the hash the client claimed.
            payload_hash = headers.get("x-amz-content-sha256", "").strip()
        elif "x-amz-content-sha256" in signed.signed_headers:
            claimed = headers.get("x-amz-content-sha256", "").strip()
            if not hmac.compare_digest(claimed.encode("utf-8", "replace"), payload_hash.encode()):
                # A signed hash that does not match the body would let the body be swapped.
                raise InvalidSignatureException(
                    "The provided 'x-amz-content-sha256' header does not match what was computed."
                )
        query = canonical_query_string(
            pairs, exclude="X-Amz-Signature" if signed.form == "query" else None
        )
        canonical = canonical_request(
            method, path, query, headers, signed.signed_headers, payload_hash
        )
        to_sign = string_to_sign(signed.timestamp, signed.scope, canonical)
        key = self._signing_key(entry.secret_access_key, signed)
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signed.signature.encode("utf-8", "replace")):
            raise InvalidSignatureException(SIGNATURE_MISMATCH)
        return Principal(
            signed.access_key_id, entry.account_id, signed.region, session=entry.session
        )

    def _signing_key(self, secret: str, signed: SignedRequest) -> bytes:
        """The derived key depends only on (secret, day, region, service): four HMACs saved."""
        cache_key = (secret, signed.scope_date, signed.region, signed.service)
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) >= _KEY_CACHE_LIMIT:
                self._keys.clear()
            key = derive_signing_key(secret, signed.scope_date, signed.region, signed.service)
            self._keys[cache_key] = key
        return key

    def _check_scope(self, signed: SignedRequest) -> None:
        if signed.terminator != TERMINATOR:
            raise InvalidSignatureException(
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
                f"not '{signed.terminator}'. "
            )
        if signed.service != self._service:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{self._service}'. "
            )
        valid_region = (
            signed.region in self._regions
            if self._regions is not None
            else is_region(signed.region)
        )
        if not valid_region:
            raise InvalidSignatureException(
                f"Credential should be scoped to a valid region, not '{signed.region}'. "
            )
        if signed.scope_date != signed.timestamp[:8]:
            raise InvalidSignatureException(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{signed.scope_date}' != '{signed.timestamp[:8]}', from "
                f"'{signed.timestamp}'."
            )

    @staticmethod
    def _check_signed_headers(signed: SignedRequest) -> None:
        if "host" not in signed.signed_headers:
            raise InvalidSignatureException(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
            )
        if signed.date_header is not None and signed.date_header not in signed.signed_headers:
            # [I] wording modelled on the Host message; the date must be covered by the signature.
            raise InvalidSignatureException(
                "'X-Amz-Date' or 'Date' must be a 'SignedHeader' in the AWS Authorization."
            )

    def _check_time(self, signed: SignedRequest, now: float) -> None:
        skew = self._skew
        window = f"{skew // 60} min" if skew % 60 == 0 else f"{skew} sec"
        if signed.epoch > now + skew:
            raise InvalidSignatureException(
                f"Signature not yet current: {signed.timestamp} is still later than "
                f"{_format_time(now + skew)} ({_format_time(now)} + {window}.)"
            )
        if signed.expires is not None:
            if now > signed.epoch + signed.expires:
                raise InvalidSignatureException(
                    f"Signature expired: {signed.timestamp} is now earlier than "
                    f"{_format_time(now - signed.expires)} ({_format_time(now)} - "
                    f"{signed.expires} sec.)"
                )
        elif signed.epoch < now - skew:
            raise InvalidSignatureException(
                f"Signature expired: {signed.timestamp} is now earlier than "
                f"{_format_time(now - skew)} ({_format_time(now)} - {window}.)"
            )


def _check_coverage(signed: SignedRequest, headers: Mapping[str, str]) -> None:
    """Every header that names or shapes the operation must be covered by the signature.

    Otherwise a request signed over `host;x-amz-date` could have its X-Amz-Target changed from
    DescribeIdentityPool to DeleteIdentityPool in flight and still verify. Every SDK signs
    these; AWS's SigV4 guide says the host and every `x-amz-*` header must be signed.
    """
    covered = signed.signed_headers
    for name in _OPERATION_HEADERS:
        if name in headers and name not in covered:
            raise _unsigned_header(name)
    for name in headers:
        if name.startswith("x-amz-") and name not in covered:
            raise _unsigned_header(name)


def _unsigned_header(name: str) -> InvalidSignatureException:
    # [I] wording modelled on AWS's Host message.
    return InvalidSignatureException(f"'{name}' must be a 'SignedHeader' in the AWS Authorization.")


def _same_token(expected: str | None, given: str | None) -> bool:
    if expected is None or given is None:
        return expected is None and given is None
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))
