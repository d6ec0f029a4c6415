"""Opaque access tokens: Facebook, Login with Amazon, Twitter and Digits.

These tokens cannot be verified locally, so the provider is asked (docs/login-providers.md):
- Facebook Graph: `GET /app` names the app the token belongs to (must be the pool's app id)
  and `GET /me?fields=id` the app-scoped user id. No app secret is needed.
- Login with Amazon: `GET /auth/o2/tokeninfo` gives `aud` (the client id) and `user_id`.
- Twitter: `GET /1.1/account/verify_credentials.json` signed with OAuth 1.0a using the
  pool's `consumerKey;consumerSecret` and the login's `token;secret`. Digits (shut down in
  2017) is kept for old pools: OAuth echo to `/1.1/sdk/account.json` on its base URL.
Base URLs come from the configuration so tests and air-gapped sites can use fakes. A provider
that refuses the token → NotAuthorizedException; one that cannot answer →
ExternalServiceException (what the model documents for an unresponsive Facebook or Twitter).
The base URLs are operator URLs for `providers.fetch` (capped, timed, no cross-origin
redirect); the token travels in the query or Authorization header and is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from idpool.domain.errors import ExternalServiceException, NotAuthorizedException
from idpool.providers import untrusted_json
from idpool.providers.config import SocialConfig
from idpool.providers.fetch import Fetcher, FetchError
from idpool.providers.oidc import NOT_SUPPORTED
from idpool.providers.targets import Checked, Kind, Target

log = logging.getLogger("idpool.providers")

UNREACHABLE = "The login provider did not respond; try again later."


def rejected(key: str) -> NotAuthorizedException:
    return NotAuthorizedException(f"Invalid login token. {key} did not accept the token.")


def _pct(value: str) -> str:
    return quote(value, safe="~-._")


def oauth1_signature(
    method: str,
    url: str,
    params: Mapping[str, str],
    consumer_secret: str,
    token_secret: str,
) -> str:
    """HMAC-SHA1 signature of RFC 5849 §3.4 over the request parameters (query + oauth_*)."""
    encoded = sorted((_pct(k), _pct(v)) for k, v in params.items())
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    base = "&".join((method.upper(), _pct(url), _pct(normalized)))
    signing_key = f"{_pct(consumer_secret)}&{_pct(token_secret)}"
    digest = hmac.new(signing_key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class SocialVerifier:
    def __init__(
        self,
        fetcher: Fetcher,
        config: SocialConfig,
        clock: Callable[[], float],
        *,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._fetcher = fetcher
        self._config = config
        self._clock = clock
        self._nonce = nonce

    async def check(self, target: Target, token: str) -> Checked:
        if not token:
            raise rejected(target.key)
        if target.kind is Kind.FACEBOOK:
            return await self._facebook(target, token)
        if target.kind is Kind.AMAZON:
            return await self._amazon(target, token)
        if target.kind is Kind.TWITTER:
            return await self._oauth1(
                target, token, f"{self._config.twitter_url}/1.1/account/verify_credentials.json"
            )
        if target.kind is Kind.DIGITS:
            return await self._oauth1(
                target, token, f"{self._config.digits_url}/1.1/sdk/account.json"
            )
        raise rejected(target.key)

    async def _facebook(self, target: Target, token: str) -> Checked:
        base = self._config.facebook_url
        app = await self._get(target.key, f"{base}/app", params={"access_token": token})
        app_id = str(app.get("id", ""))
        if not app_id or app_id not in (target.audiences or ()):
            raise NotAuthorizedException(NOT_SUPPORTED)
        me = await self._get(
            target.key, f"{base}/me", params={"fields": "id", "access_token": token}
        )
        user_id = _id(me, "id")
        if user_id is None:
            raise rejected(target.key)
        return Checked(
            subject=user_id,
            claims={"iss": target.key, "aud": app_id, "sub": user_id},
            audience=app_id,
        )

    async def _amazon(self, target: Target, token: str) -> Checked:
        info = await self._get(
            target.key,
            f"{self._config.amazon_url}/auth/o2/tokeninfo",
            params={"access_token": token},
        )
        aud = info.get("aud")
        if not isinstance(aud, str) or aud not in (target.audiences or ()):
            raise NotAuthorizedException(NOT_SUPPORTED)
        user_id = _id(info, "user_id")
        if user_id is None:
            raise rejected(target.key)
        return Checked(
            subject=user_id,
            claims={"iss": target.key, "aud": aud, "sub": user_id, "user_id": user_id},
            audience=aud,
        )

    async def _oauth1(self, target: Target, token: str, url: str) -> Checked:
        access_token, sep, token_secret = token.partition(";")
        consumer_key = (target.audiences or ("",))[0]
        if not sep or not access_token or not token_secret or not consumer_key:
            raise rejected(target.key)
        oauth = {
            "oauth_consumer_key": consumer_key,
            "oauth_nonce": self._nonce(),
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_timestamp": str(int(self._clock())),
            "oauth_token": access_token,
            "oauth_version": "1.0",
        }
        oauth["oauth_signature"] = oauth1_signature(
            "GET", url, oauth, target.app_secret or "", token_secret
        )
        header = "OAuth " + ", ".join(f'{_pct(k)}="{_pct(v)}"' for k, v in sorted(oauth.items()))
        account = await self._get(target.key, url, headers={"Authorization": header})
        user_id = _id(account, "id_str") or _id(account, "id")
        if user_id is None:
            raise rejected(target.key)
        return Checked(
            subject=user_id,
            claims={"iss": target.key, "aud": consumer_key, "sub": user_id},
            audience=consumer_key,
        )

    async def _get(
        self,
        key: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Mapping[str, Any]:
        try:
            answer = await self._fetcher.get(url, params=params, headers=headers)
        except FetchError as exc:
            log.warning("login provider %s unreachable: %s", key, exc)
            raise ExternalServiceException(UNREACHABLE) from None
        if answer.status >= 500 or answer.status == 429:
            log.warning("login provider %s answered %s", key, answer.status)
            raise ExternalServiceException(UNREACHABLE)
        if answer.status != 200:
            raise rejected(key)
        try:
            body = untrusted_json.loads(answer.body)
        except ValueError:
            log.warning("login provider %s answered with something other than JSON", key)
            raise ExternalServiceException(UNREACHABLE) from None
        if not isinstance(body, dict):
            raise ExternalServiceException(UNREACHABLE)
        return body


def _id(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)
