"""AWS Signature Version 4 verification: who signed this request, and is the signature good?

Runs in the pipeline after the operation is named and before constraints, for every request
(public operations may be signed too). It returns None for an unsigned request and lets the
pipeline decide whether that is allowed; every malformed or wrong signature raises the AWS error a
real endpoint would send.

The canonical request is rebuilt from the *signed* headers only, the way the AWS server side does:
botocore's signer decides which headers to sign from what it has, but a verifier must honour
whatever list the client declared (including headers botocore would never sign). The pieces
(auth/sigv4_request.py) follow botocore's `SigV4Auth` exactly; `tests/unit/test_sigv4.py`
proves the result identical to botocore's own `canonical_request` and signature for random
requests.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Literal

from idpool.auth.principals import (
    Principal,
    PrincipalDirectory,
    PrincipalEntry,
    lax_account_for,
)
from idpool.auth.sigv4_request import (
    QUERY_AUTH_MARKERS,
    TERMINATOR,
    SignedRequest,
    canonical_query_string,
    canonical_request,
    derive_signing_key,
    format_time,
    parse_authorization_header,
    parse_query,
    parse_query_auth,
    string_to_sign,
)
from idpool.domain.errors import (
    ExpiredTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
    UnrecognizedClientException,
)
from idpool.domain.ids import DEFAULT_ACCOUNT, is_region
from idpool.domain.ports import SessionOpener

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired."

_OPERATION_HEADERS = ("x-amz-target", "content-type")

_KEY_CACHE_LIMIT = 1024

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
        presigned = not QUERY_AUTH_MARKERS.isdisjoint(query_auth)
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
                f"{format_time(now + skew)} ({format_time(now)} + {window}.)"
            )
        if signed.expires is not None:
            if now > signed.epoch + signed.expires:
                raise InvalidSignatureException(
                    f"Signature expired: {signed.timestamp} is now earlier than "
                    f"{format_time(now - signed.expires)} ({format_time(now)} - "
                    f"{signed.expires} sec.)"
                )
        elif signed.epoch < now - skew:
            raise InvalidSignatureException(
                f"Signature expired: {signed.timestamp} is now earlier than "
                f"{format_time(now - skew)} ({format_time(now)} - {window}.)"
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
