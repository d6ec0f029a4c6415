"""The providers file, reloaded without a restart: on SIGHUP and when the file changes.

User-pool emulators and local issuers come and go while idpool runs, so restarting it to
pick up a providers-file edit is what users should not have to do. The reloader holds the
login verifier the service uses and replaces it as a whole: a new configuration is read,
validated and built off to the side, then swapped in with one assignment, so a request sees
either the old configuration or the new one, never a mixture. A file that does not load
keeps the previous configuration; the log says why, and says what changed when one loads.

Change detection is a cheap `stat` of the file every few seconds (modification time, size
and inode, so an editor's atomic rename counts too); no file-watching library is needed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from idpool.domain.ports import LoginVerifier
from idpool.domain.records import Pool, VerifiedLogin
from idpool.providers.config import ProvidersConfig, ProvidersConfigError


class ProvidersFileError(ProvidersConfigError):
    """The providers file cannot be read or parsed; the message names the file."""


log = logging.getLogger("idpool.providers")

Build = Callable[[ProvidersConfig, LoginVerifier | None], LoginVerifier]
"""Makes the verifier of a configuration; given the previous verifier so it can keep caches."""


def describe_changes(old: ProvidersConfig, new: ProvidersConfig) -> list[str]:
    """What differs between two configurations, one phrase per setting, names but no values
    of mapping entries (entries are URLs and ARNs; nothing secret lives in this file)."""
    changes: list[str] = []
    for item in fields(ProvidersConfig):
        before, after = getattr(old, item.name), getattr(new, item.name)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            for label, names in (
                ("added", sorted(set(after) - set(before))),
                ("removed", sorted(set(before) - set(after))),
                ("changed", sorted(k for k in set(before) & set(after) if before[k] != after[k])),
            ):
                if names:
                    changes.append(f"{item.name} {label}: {', '.join(names)}")
        else:
            changes.append(f"{item.name}: {_show(before)} -> {_show(after)}")
    return changes


def _show(value: Any) -> str:
    if hasattr(value, "__dataclass_fields__"):
        return ", ".join(f"{f}={getattr(value, f)}" for f in value.__dataclass_fields__)
    return repr(value)


class ReloadingLoginVerifier:
    """The LoginVerifier of the service, whose providers configuration can be replaced live."""

    def __init__(
        self,
        load: Callable[[], ProvidersConfig],
        build: Build,
        *,
        path: str | None = None,
        initial: ProvidersConfig | None = None,
    ) -> None:
        self._load = load
        self._build = build
        self._path = Path(path) if path else None
        self.config = initial if initial is not None else load()
        self._verifier = build(self.config, None)
        self._seen = self._signature()
        self._lock = asyncio.Lock()

    @property
    def current(self) -> LoginVerifier:
        return self._verifier

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        return await self._verifier.verify(pool, provider, token)

    def _signature(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    async def reload(self, reason: str) -> bool:
        """Read the configuration again and swap it in; False (and a log line) when it fails."""
        async with self._lock:
            self._seen = self._signature()
            where = str(self._path) if self._path else "providers configuration"
            try:
                config = await asyncio.to_thread(self._load)
            except Exception as exc:  # any bad file keeps the running configuration
                log.error("%s not reloaded (%s), keeping the previous one: %s", where, reason, exc)
                return False
            changes = describe_changes(self.config, config)
            if not changes:
                log.info("%s reloaded (%s): no changes", where, reason)
                return True
            try:
                verifier = self._build(config, self._verifier)
            except Exception as exc:
                log.error("%s not reloaded (%s), keeping the previous one: %s", where, reason, exc)
                return False
            self._verifier, self.config = verifier, config
            log.info("%s reloaded (%s): %s", where, reason, "; ".join(changes))
            if config.trust_mode:
                log.warning(
                    "TRUST MODE IS ON: provider tokens are accepted WITHOUT signature checks. "
                    "Never use this outside local development."
                )
            return True

    async def check(self) -> bool | None:
        """Reload when the file changed since the last look; None when it did not."""
        if self._path is None or self._signature() == self._seen:
            return None
        return await self.reload("file changed")

    async def watch(self, interval: float) -> None:
        """Look at the file every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except Exception:
                # A watcher that died would silently stop reloads; log and keep watching.
                log.exception("providers file watcher failed; still watching")


def read_providers_file(path: str) -> Mapping[str, Any]:
    """The providers file as plain data; a file that cannot be read or parsed is a
    ProvidersFileError naming the file (and YAML's line and column)."""
    import yaml

    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ProvidersFileError(f"cannot read the providers file {path}: {reason}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProvidersFileError(
            f"the providers file {path} is not valid YAML: {' '.join(str(exc).split())}"
        ) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise ProvidersFileError(f"the providers file {path} must be a YAML mapping of settings")
    return loaded
