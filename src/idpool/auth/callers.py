"""Who signed a request, as one step: SigV4 verification, then the vended-credentials check.

`LiveSigner` is what every signed endpoint (the API, idpool's STS, the gateway auth endpoint)
needs: the request's principal, with credentials idpool vended refused once their identity is
gone (auth/sessions.py). `CallerAuthenticator` turns that principal into the service's `Caller`
for the API pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping

from idpool.auth.principals import Principal
from idpool.auth.sessions import SessionLiveness
from idpool.auth.sigv4 import SigV4Verifier
from idpool.domain.records import Caller


class LiveSigner:
    def __init__(self, verifier: SigV4Verifier, liveness: SessionLiveness) -> None:
        self._verifier = verifier
        self._liveness = liveness

    async def principal(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        body_forwarded: bool = True,
    ) -> Principal | None:
        """The signer, None when unsigned; raises on a bad signature or revoked credentials."""
        principal = self._verifier.verify(
            method, path, query, headers, body, body_forwarded=body_forwarded
        )
        if principal is not None and principal.session is not None:
            await self._liveness.check(principal.session)
        return principal


def caller_of(principal: Principal) -> Caller:
    return Caller(
        account_id=principal.account_id,
        region=principal.region,
        access_key_id=principal.access_key_id,
        signed=True,
        session=principal.session,
    )


class CallerAuthenticator:
    """The API pipeline's `RequestAuthenticator`: the caller of a signed request, else None."""

    def __init__(self, signer: LiveSigner) -> None:
        self._signer = signer

    async def __call__(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Caller | None:
        principal = await self._signer.principal(method, path, query, headers, body)
        return None if principal is None else caller_of(principal)
