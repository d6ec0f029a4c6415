"""Issuers' public keys: discovery document → JWKS, cached with a TTL.

Every login with a JWT needs the issuer's keys, so fetching them per request would make the
provider's uptime ours and let one caller make us hammer it. Keys are cached for `ttl`
seconds; a token whose `kid` is unknown triggers one refresh (a provider rotated its keys),
but at most once per `refresh_interval` per issuer so random kids cannot force fetches.
A fetch that failed is not retried for `retry_after_failure` seconds either, and keys past
their TTL stay in use for one more TTL while the provider is unreachable.

Fetches go through `providers.fetch`, which decides how far each URL is trusted: a URL on
an origin the operator wrote in the providers file is fetched as written; any other (a user
pool's `/.well-known/jwks.json`, a public issuer's discovery document, a `jwks_uri` that
points elsewhere) is a derived URL — https and public addresses only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from idpool.domain.errors import ExternalServiceException
from idpool.providers import untrusted_json
from idpool.providers.fetch import MAX_BODY_BYTES, Fetcher, FetchError, loggable

log = logging.getLogger("idpool.providers")

UNREACHABLE = "The identity provider could not be reached to verify the login token."
MAX_DOCUMENT_BYTES = MAX_BODY_BYTES

_KEY_TYPES: dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {
    "RSA": RSAKey,
    "EC": ECKey,
    "OKP": OKPKey,
}


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where an issuer's keys are: a discovery document, a JWKS URL or a JWKS file."""

    discovery_url: str | None = None
    jwks_url: str | None = None
    jwks_file: str | None = None

    def describe(self) -> str:
        return self.jwks_url or self.jwks_file or self.discovery_url or "(nowhere)"


@dataclass(slots=True)
class _Entry:
    keys: tuple[Key, ...]
    fetched_at: float


class JwksCache:
    """Public signing keys per KeySource; safe to share across concurrent requests."""

    def __init__(
        self,
        fetcher: Fetcher,
        clock: Callable[[], float],
        *,
        ttl: float = 3600.0,
        refresh_interval: float = 30.0,
        retry_after_failure: float = 5.0,
    ) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._ttl = ttl
        self._refresh_interval = refresh_interval
        self._retry_after_failure = retry_after_failure
        self._entries: dict[KeySource, _Entry] = {}
        self._failed_at: dict[KeySource, float] = {}
        self._locks: dict[KeySource, asyncio.Lock] = {}

    async def candidates(self, source: KeySource, kid: str | None, kty: str) -> list[Key]:
        """Keys that may have signed a token with this `kid` and key type.

        Raises ExternalServiceException when the keys cannot be had at all.
        """
        entry = await self._entry(source, force=False)
        found = _matching(entry.keys, kid, kty)
        if not found and self._clock() - entry.fetched_at >= self._refresh_interval:
            entry = await self._entry(source, force=True)
            found = _matching(entry.keys, kid, kty)
        return found

    async def _entry(self, source: KeySource, *, force: bool) -> _Entry:
        lock = self._locks.setdefault(source, asyncio.Lock())
        async with lock:
            now = self._clock()
            entry = self._entries.get(source)
            if entry is not None:
                age = now - entry.fetched_at
                # A concurrent request may have refreshed while this one waited for the lock.
                if age < self._ttl and not (force and age >= self._refresh_interval):
                    return entry
            failed = self._failed_at.get(source)
            try:
                if failed is not None and now - failed < self._retry_after_failure:
                    raise ExternalServiceException(UNREACHABLE)
                keys = await self._fetch(source)
            except ExternalServiceException:
                if failed is None or now - failed >= self._retry_after_failure:
                    self._failed_at[source] = now
                if entry is not None and self._usable_when_stale(entry, now, force=force):
                    log.warning("serving cached keys of %s during an outage", source.describe())
                    return entry
                raise
            self._failed_at.pop(source, None)
            entry = _Entry(keys, now)
            self._entries[source] = entry
            return entry

    def _usable_when_stale(self, entry: _Entry, now: float, *, force: bool) -> bool:
        """A provider outage at the end of the TTL should not fail every login: keys past
        their TTL stay usable for one more TTL. An unknown-kid refresh gets no such grace —
        the token may well be signed with a key we have never seen."""
        return not force and now - entry.fetched_at < 2 * self._ttl

    async def _fetch(self, source: KeySource) -> tuple[Key, ...]:
        if source.jwks_file is not None:
            try:
                raw = await asyncio.to_thread(_read_capped, Path(source.jwks_file))
            except OSError as exc:
                log.error("cannot read JWKS file %s: %s", source.jwks_file, exc)
                raise ExternalServiceException(UNREACHABLE) from None
            return parse_jwks(_json(raw, source.jwks_file), source.jwks_file)
        jwks_url = source.jwks_url
        if jwks_url is None:
            if source.discovery_url is None:
                raise ExternalServiceException(UNREACHABLE)
            discovery = await self._get_json(source.discovery_url)
            uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
            if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
                log.warning("discovery document %s has no usable jwks_uri", source.discovery_url)
                raise ExternalServiceException(UNREACHABLE)
            # Unless it stays on an operator's origin, this URL is the remote document's
            # choice, so the fetcher holds it to the derived-URL rules.
            jwks_url = uri
        return parse_jwks(await self._get_json(jwks_url), jwks_url)

    async def _get_json(self, url: str) -> Any:
        try:
            answer = await self._fetcher.get(url, headers={"Accept": "application/json"})
        except FetchError as exc:
            log.warning("identity provider unreachable: %s", exc)
            raise ExternalServiceException(UNREACHABLE) from None
        if answer.status != 200:
            log.warning("identity provider answered %s: %s", answer.status, loggable(url))
            raise ExternalServiceException(UNREACHABLE)
        return _json(answer.body, url)


def _read_capped(path: Path) -> bytes:
    """At most one byte more than the cap, so a huge file is refused without being read."""
    with path.open("rb") as file:
        return file.read(MAX_DOCUMENT_BYTES + 1)


def _json(raw: bytes, where: str) -> Any:
    if len(raw) > MAX_DOCUMENT_BYTES:
        log.warning("key document too large: %s", where)
        raise ExternalServiceException(UNREACHABLE)
    try:
        return untrusted_json.loads(raw)
    except ValueError:
        log.warning("key document is not JSON: %s", where)
        raise ExternalServiceException(UNREACHABLE) from None


def parse_jwks(document: Any, where: str) -> tuple[Key, ...]:
    """The usable public signature keys of a JWKS; symmetric and encryption keys are dropped.

    One malformed key does not take the issuer's other keys down with it.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        log.warning("not a JWKS (no 'keys' list): %s", where)
        raise ExternalServiceException(UNREACHABLE)
    keys: list[Key] = []
    for item in document["keys"]:
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        key_class = _KEY_TYPES.get(str(item.get("kty")))
        if key_class is None:
            continue
        public = {k: v for k, v in item.items() if k not in {"d", "p", "q", "dp", "dq", "qi"}}
        try:
            keys.append(key_class.import_key(public))
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("skipping unusable key %r in %s: %s", item.get("kid"), where, exc)
    return tuple(keys)


def _matching(keys: tuple[Key, ...], kid: str | None, kty: str) -> list[Key]:
    return [k for k in keys if k.key_type == kty and (kid is None or k.kid == kid)]
