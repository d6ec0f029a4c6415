"""The interfaces the service needs from the outside world.

The service imports only these protocols; `app.py` plugs in the SQL store, the login
validators, the token signer and the credential vendor. Keeping them here is what lets the
service be tested without HTTP and lets storage change without touching business rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from idpool.domain.records import Credentials, Identity, Link, Pool, VendedSession, VerifiedLogin


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class IdSource(Protocol):
    def uuid(self) -> str:
        """A new random lowercase hyphenated UUID."""
        ...

    def secret(self, nbytes: int) -> str:
        """A new random URL-safe secret string."""
        ...


class StoreConflict(Exception):
    """A write lost a race (unique key taken, row changed or serialization failure).

    The service answers by running its whole transaction again, so that concurrent requests
    for one new login end with one identity.
    """


# --- the store, one port per aggregate (as Ory Kratos splits its persisters) -----------------
#
# One SQL transaction object implements all of them (storage/sql.py); each service function
# names the port it needs. Reads of rows that carry an account (pools, identities, events)
# take the account into the query when the caller's account is known, so a row of another
# account is never read, rather than read and refused afterwards.


class PoolRows(Protocol):
    """Identity pools (with their configuration, roles and tags)."""

    async def get_pool(
        self, pool_id: str, *, account_id: str | None = None, for_update: bool = False
    ) -> Pool | None:
        """The pool, of `account_id` when given (another account's pool is None)."""
        ...

    async def insert_pool(self, pool: Pool) -> None: ...
    async def update_pool(self, pool: Pool) -> None:
        """Write the pool; raises StoreConflict when its stored version is not pool.version - 1."""
        ...

    async def delete_pool(self, pool_id: str) -> None: ...
    async def count_pools(self, account_id: str, region: str) -> int: ...
    async def list_pools(
        self, account_id: str, region: str, after: tuple[float, str] | None, limit: int
    ) -> list[Pool]: ...


class IdentityRows(Protocol):
    """Identities; their logins are links (LinkRows)."""

    async def get_identity(
        self, identity_id: str, *, account_id: str | None = None, for_update: bool = False
    ) -> Identity | None:
        """The identity, of `account_id` when given (another account's identity is None)."""
        ...

    async def lock_identities(self, identity_ids: Sequence[str]) -> list[Identity]:
        """The identities that exist among `identity_ids`, locked until the transaction ends.

        Rows are locked in identity-id order (so two transactions locking overlapping sets
        cannot deadlock) and read after the lock is granted, so a `disabled` flag or a deletion
        committed while this transaction waited is what comes back. A store whose write
        transactions are serialized (SQLite) reads them without row locks.
        """
        ...

    async def insert_identity(self, identity: Identity) -> None: ...
    async def update_identity(self, identity: Identity) -> None: ...
    async def delete_identity(self, identity_id: str) -> None: ...
    async def list_identities(
        self, pool_id: str, after: tuple[float, str] | None, limit: int, hide_disabled: bool
    ) -> list[Identity]: ...


class LinkRows(Protocol):
    """Links: a login (provider, subject) or a developer user id, held by one identity.

    A link is inserted, moved or deleted only while the identities it leaves and joins are
    locked (docs/reliability.md).
    """

    async def links_of(self, identity_ids: Sequence[str]) -> list[Link]: ...
    async def find_links(self, pool_id: str, keys: Sequence[tuple[str, str]]) -> list[Link]: ...
    async def insert_link(self, link: Link) -> None: ...
    async def delete_link(self, pool_id: str, provider: str, subject: str) -> None: ...
    async def move_links(self, from_identity: str, to_identity: str) -> None: ...
    async def developer_links(
        self, identity_id: str, after: str | None, limit: int
    ) -> list[Link]: ...


class AuditTrail(Protocol):
    """Identity lifecycle events (docs/console.md)."""

    async def record_event(
        self,
        account_id: str,
        pool_id: str,
        identity_id: str | None,
        kind: str,
        detail: str,
        at: float,
    ) -> None: ...

    async def list_events(
        self,
        account_id: str,
        pool_id: str,
        identity_id: str | None,
        before: int | None,
        limit: int,
    ) -> list[AuditEvent]:
        """Events of a pool (of one identity when given), newest first, event_id < `before`."""
        ...


class Transaction(PoolRows, IdentityRows, LinkRows, AuditTrail, Protocol):
    """What the API's operations read and write inside one store transaction."""


class Store(Protocol):
    def transaction(self, readonly: bool = False) -> AbstractAsyncContextManager[Transaction]:
        """A transaction that commits when the block ends and rolls back on an exception."""
        ...

    async def close(self) -> None: ...


class AdminReads(Protocol):
    """The console's reads across accounts: never on the API's request path."""

    async def list_all_pools(self, after: tuple[float, str] | None, limit: int) -> list[Pool]:
        """Pools of every account and region, in (created_at, pool_id) order."""
        ...

    async def count_identities(self, pool_id: str) -> int: ...
    async def search_links(self, pool_id: str, subject: str, limit: int) -> list[Link]:
        """Links of a pool whose subject (provider user id or developer user id) is `subject`."""
        ...

    async def recent_events(self, limit: int) -> list[AuditEvent]:
        """The newest `limit` events of every pool, newest first (the console's charts)."""
        ...


class ConsoleTransaction(Transaction, AdminReads, Protocol):
    """The operator's view: everything an operation reads, plus the cross-account reads."""


class ConsoleStore(Protocol):
    def transaction(
        self, readonly: bool = False
    ) -> AbstractAsyncContextManager[ConsoleTransaction]: ...


class KeyRows(Protocol):
    """idpool's signing-key rows (the KeyStore below is built on them)."""

    async def load_keys(self, now: float) -> list[StoredKey]:
        """Every key not yet expired, newest first."""
        ...

    async def insert_key(self, key: StoredKey, *, active: bool) -> None:
        """Insert a key; a second active key raises StoreConflict (a uniqueness guard)."""
        ...

    async def retire_active_key(self, retire_at: float, expires_at: float) -> None: ...


class KeyRowStore(Protocol):
    def transaction(self, readonly: bool = False) -> AbstractAsyncContextManager[KeyRows]: ...


class RateLimiter(Protocol):
    """AWS's request-rate quotas, per account and quota key (wire/operations.py maps the keys)."""

    def check(self, account_id: str, key: str) -> None:
        """Raise TooManyRequestsException when the account's quota for the call is spent."""
        ...


class LoginVerifier(Protocol):
    """Checks one entry of a Logins map against the pool's configuration."""

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        """Return the verified login or raise NotAuthorizedException / ExternalServiceException."""
        ...


class TokenSigner(Protocol):
    """Signs OpenID tokens with idpool's current key (RS512, `typ: JWS`)."""

    @property
    def issuer(self) -> str: ...

    async def sign(self, claims: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True, slots=True)
class VendRequest:
    """`token` is None when the vendor does not need one (see CredentialVendor.needs_token)."""

    role_arn: str
    token: str | None
    identity: Identity
    pool: Pool
    principal_tags: Mapping[str, str]
    authenticated: bool
    duration_seconds: int = 3600
    # API Gateway's cognitoAuthenticationProvider for the logins used ('' for guests).
    provider: str = ""
    # The RoleSessionName: AWS's for the enhanced flow, the caller's for AssumeRoleWithWebIdentity.
    session_name: str = "CognitoIdentityCredentials"


class CredentialVendor(Protocol):
    """Turns an OpenID token and a role into temporary AWS credentials."""

    @property
    def needs_token(self) -> bool:
        """False for vendors that mint locally: the service then skips the RSA signature."""
        ...

    async def vend(self, request: VendRequest) -> Credentials:
        """Raise InvalidIdentityPoolConfigurationException when the role cannot be assumed."""
        ...


class IssuedTokenReader(Protocol):
    """Reads back a token idpool issued (GetOpenIdToken, the developer token)."""

    @property
    def issuer(self) -> str: ...

    async def signed_claims(self, token: str) -> Mapping[str, Any]:
        """The claims of a well-formed token signed by one of idpool's published keys.

        Raises NotAuthorizedException otherwise; checks neither iss, aud nor exp.
        """
        ...


class SessionOpener(Protocol):
    """Opens the session token of credentials idpool vended (vending/sealed.py)."""

    def open(self, access_key_id: str, session_token: str) -> tuple[str, VendedSession] | None:
        """(secret access key, session) when the pair is idpool's and intact, else None."""
        ...


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing key as stored: the private key is encrypted by the keyring, never by the store.

    `retired_at` is None for the active key; a retired key stays published in the JWKS until
    `expires_at`, when no token it signed can still be valid.
    """

    kid: str
    created_at: float
    private_key_encrypted: bytes
    public_jwk: Mapping[str, Any]
    retired_at: float | None = None
    expires_at: float | None = None


class KeyStore(Protocol):
    """Where idpool's own signing keys live (the database, so that replicas share them)."""

    async def load_keys(self, now: float) -> list[StoredKey]:
        """Every key not yet expired, newest first."""
        ...

    async def insert_key_if_no_active(self, key: StoredKey) -> bool:
        """Insert `key` as the active key unless one exists; True when it was inserted.

        Guarded by a uniqueness constraint so that replicas starting together create one key.
        """
        ...

    async def rotate(self, new_key: StoredKey, retire_at: float, expires_at: float) -> None:
        """Retire the active key (published until `expires_at`) and make `new_key` active."""
        ...


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One identity lifecycle event (created, linked, merged, unlinked, disabled, deleted).

    `detail` is what the recording operation chose to keep (provider names, the surviving
    identity of a merge); never a token.
    """

    event_id: int
    account_id: str
    pool_id: str
    identity_id: str | None
    kind: str
    detail: str
    at: float
