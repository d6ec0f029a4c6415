"""Vended credentials stop working the moment their identity does.

The signature of vended credentials verifies anywhere until their sealed expiry; this check
makes them revocable: at every verification the identity they were vended for is read from the
store, and a deleted, disabled or merged-away identity (merging disables the source) ends them.
One primary-key read per request signed with vended credentials, none for other requests.
"""

from __future__ import annotations

from idpool.auth.sigv4 import INVALID_TOKEN
from idpool.domain.errors import UnrecognizedClientException
from idpool.domain.ports import Store
from idpool.domain.records import VendedSession


class SessionLiveness:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def is_live(self, session: VendedSession) -> bool:
        async with self._store.transaction(readonly=True) as tx:
            identity = await tx.get_identity(session.identity_id)
        return (
            identity is not None and not identity.disabled and (identity.pool_id == session.pool_id)
        )

    async def check(self, session: VendedSession) -> None:
        """Raise AWS's invalid-token error when the identity no longer stands."""
        if not await self.is_live(session):
            raise UnrecognizedClientException(INVALID_TOKEN)
