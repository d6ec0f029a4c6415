"""Who may sign admin calls: access key id → (secret, account id).

This is where account isolation starts. `auth/sigv4.py` looks the signing key up here; the account
it maps to scopes every later store query. Keys come from a credentials file at start-up and from
`add()` at run time (seed files). Credentials idpool vended are not listed here: they carry their
own meaning and are opened by `vending/sealed.py` through the `SessionOpener` port.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idpool.domain.ids import DEFAULT_ACCOUNT
from idpool.domain.records import VendedSession

_ACCOUNT_RE = re.compile(r"[0-9]{12}")
# Access key ids end up inside `Credential=<id>/<date>/...`, so they may not hold '/', ',', '=' or
# whitespace; anything else goes (emulator users like plain "test").
_ACCESS_KEY_RE = re.compile(r"[A-Za-z0-9_.+-]{1,128}")
_FIELDS = ("access_key_id", "secret_access_key", "account_id")
_OPTIONAL_FIELDS = ("session_token", "expires_at")


class PrincipalsFileError(ValueError):
    """A credentials file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request.

    `verified` is False in lax mode, where the signature was parsed but not checked; log it so a
    lax deployment is visible in the request log.
    """

    access_key_id: str
    account_id: str
    region: str = ""
    verified: bool = True
    session: VendedSession | None = None


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    """One known access key. Temporary keys carry the session token and an expiry (epoch s)."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    session_token: str | None = None
    expires_at: float | None = None
    # Set for credentials idpool vended: what they stand for (never an admin by default).
    session: VendedSession | None = None

    def __repr__(self) -> str:
        # Never let a secret reach a log line or a traceback.
        return (
            f"PrincipalEntry(access_key_id={self.access_key_id!r}, "
            f"account_id={self.account_id!r}, temporary={self.session_token is not None})"
        )

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def lax_account_for(access_key_id: str, default_account: str = DEFAULT_ACCOUNT) -> str:
    """The account of an unknown key in lax mode.

    Emulators let a test pick its account by using a 12-digit access key id; any other key lands in
    the default account, so isolation tests work without a credentials file.
    """
    return access_key_id if _ACCOUNT_RE.fullmatch(access_key_id) else default_account


def validate_entry(entry: PrincipalEntry) -> None:
    """Raise ValueError with a precise reason when the entry could never authenticate."""
    if not _ACCESS_KEY_RE.fullmatch(entry.access_key_id):
        raise ValueError(
            f"access_key_id {entry.access_key_id!r} must be 1-128 characters of letters, digits "
            "and _ . + - (no '/', ',', '=' or spaces)"
        )
    if not entry.secret_access_key:
        raise ValueError(f"secret_access_key of {entry.access_key_id!r} must not be empty")
    if not _ACCOUNT_RE.fullmatch(entry.account_id):
        raise ValueError(
            f"account_id of {entry.access_key_id!r} must be 12 digits, got {entry.account_id!r}"
        )


class PrincipalDirectory:
    """Known access keys, looked up once per signed request.

    Plain dict operations only: the server runs on one asyncio thread, and single dict reads and
    writes are atomic under the GIL, so `add()` from a request handler needs no lock.
    """

    def __init__(
        self, entries: Iterable[PrincipalEntry] = (), *, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._entries: dict[str, PrincipalEntry] = {}
        self._purge_at = 1024
        for entry in entries:
            validate_entry(entry)
            if entry.access_key_id in self._entries:
                raise ValueError(f"access_key_id {entry.access_key_id!r} is listed twice")
            self._entries[entry.access_key_id] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, access_key_id: object) -> bool:
        return access_key_id in self._entries

    def add(
        self,
        access_key_id: str,
        secret_access_key: str,
        account_id: str,
        *,
        session_token: str | None = None,
        expires_at: float | None = None,
    ) -> PrincipalEntry:
        """Register (or replace) a key at run time; returns the stored entry."""
        entry = PrincipalEntry(
            access_key_id, secret_access_key, account_id, session_token, expires_at
        )
        validate_entry(entry)
        self._entries[access_key_id] = entry
        if len(self._entries) >= self._purge_at:
            # Dropping expired temporary keys whenever the table doubles keeps memory bounded
            # at O(1) amortized cost per add.
            self.purge_expired()
            self._purge_at = max(1024, 2 * len(self._entries))
        return entry

    def remove(self, access_key_id: str) -> None:
        self._entries.pop(access_key_id, None)

    def purge_expired(self) -> int:
        """Drop expired temporary keys; returns how many were dropped."""
        now = self._clock()
        dead = [key for key, entry in self._entries.items() if entry.expired(now)]
        for key in dead:
            del self._entries[key]
        return len(dead)

    def entry(self, access_key_id: str) -> PrincipalEntry | None:
        """The full entry (with session token and expiry), expired or not."""
        return self._entries.get(access_key_id)

    def lookup(self, access_key_id: str) -> tuple[str, str] | None:
        """(secret access key, account id) of a live key, or None when unknown or expired."""
        entry = self._entries.get(access_key_id)
        if entry is None or entry.expired(self._clock()):
            return None
        return entry.secret_access_key, entry.account_id


def _parse_document(path: Path, text: str) -> Any:
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise PrincipalsFileError(f"{path}: not valid JSON: {error}") from error
    import yaml  # PyYAML is a project dependency; imported here so JSON users never load it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PrincipalsFileError(f"{path}: not valid YAML: {error}") from error


def _entry_from(path: Path, index: int, item: Any) -> PrincipalEntry:
    where = f"{path}: entry {index}"
    if not isinstance(item, dict):
        raise PrincipalsFileError(
            f"{where} must be a mapping with keys {', '.join(_FIELDS)}, got {type(item).__name__}"
        )
    missing = [name for name in _FIELDS if name not in item]
    if missing:
        raise PrincipalsFileError(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(set(item) - set(_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise PrincipalsFileError(f"{where} has unknown keys {', '.join(map(str, unknown))}")
    values: dict[str, str] = {}
    for name in _FIELDS:
        value = item[name]
        if isinstance(value, int) and not isinstance(value, bool) and name == "account_id":
            # YAML reads an unquoted account id as a number and would drop leading zeros.
            raise PrincipalsFileError(f"{where}: quote account_id so it stays 12 digits")
        if not isinstance(value, str):
            raise PrincipalsFileError(f"{where}: {name} must be a string")
        values[name] = value
    token = item.get("session_token")
    expires = item.get("expires_at")
    if token is not None and not isinstance(token, str):
        raise PrincipalsFileError(f"{where}: session_token must be a string")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)):
        raise PrincipalsFileError(f"{where}: expires_at must be epoch seconds")
    entry = PrincipalEntry(
        values["access_key_id"],
        values["secret_access_key"],
        values["account_id"],
        token,
        None if expires is None else float(expires),
    )
    try:
        validate_entry(entry)
    except ValueError as error:
        raise PrincipalsFileError(f"{where}: {error}") from error
    return entry


def load_principals(
    path: str | Path, *, clock: Callable[[], float] = time.time
) -> PrincipalDirectory:
    """Read a YAML or JSON list of `{access_key_id, secret_access_key, account_id}`.

    `.json` files are parsed as JSON, anything else as YAML (a superset). Every problem raises
    PrincipalsFileError naming the file and entry, never echoing a secret.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise PrincipalsFileError(f"{file}: cannot read credentials file: {error}") from error
    document = _parse_document(file, text)
    if document is None:
        document = []
    if not isinstance(document, list):
        raise PrincipalsFileError(
            f"{file}: expected a list of {{access_key_id, secret_access_key, account_id}}, "
            f"got {type(document).__name__}"
        )
    entries = [_entry_from(file, index, item) for index, item in enumerate(document)]
    try:
        return PrincipalDirectory(entries, clock=clock)
    except ValueError as error:
        raise PrincipalsFileError(f"{file}: {error}") from error
